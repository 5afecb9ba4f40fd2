// Packs what `npm run bench:webgpu` needs on a bare GPU machine that has no Node and no network
// (the device machines some sessions are lent: see docs/webgpu.md, "Taking the GPU figures"),
// into the git-ignored folder .gpukit/:
//   kit.tar.xz   this Node binary (as .gpukit/bin/node) and the runtime node_modules the
//                benchmark loads (tsx and esbuild, zod, the tokenizer/template packages, and
//                webgpu with only its linux-x64 Dawn), xz-compressed: Dawn and Node are most of it
//   *.deb        the Vulkan loader (libvulkan1, Debian's; dpkg -x needs no apt), which Dawn
//                dlopens to reach the NVIDIA driver
//   RUN.txt      the one command to run there: unpack with python3 (tarfile), put the loader in
//                place, point it at the driver's ICD file, run the device tests (the webgpu test
//                files, CI=true so a missing adapter fails them: the kernels' correctness on a real
//                GPU, shader-f16 included where it has it), then the benchmark with --json, and keep
//                the output under $OUT
// The native addon (native/build) travels as an ignored path beside it (carry both).
//   node scripts/gpu-kit.mjs           build the kit, print its size and the command
//   node scripts/gpu-kit.mjs --check   also run that command here, in a fresh clone of HEAD
//                                      with the kit and native/build copied in (on this machine's
//                                      adapter, small sizes): proves the kit is complete
// Not here: the figures (bench/webgpu.ts); running it on the GPU machine (a session's device tool).

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kit = join(root, '.gpukit');
const check = process.argv.includes('--check');

function fail(msg) {
  console.error(`gpu-kit: ${msg}`);
  process.exit(1);
}

if (process.platform !== 'linux' || process.arch !== 'x64') fail(`the GPU machines are linux-x64; this is ${process.platform}-${process.arch}, whose Node and Dawn would not run there`);

// The webgpu test files: every kernel and the engine on the device, nothing spawned.
const DEVICE_TESTS = ['test/backend/webgpu-*.test.ts', 'test/tensor/*-webgpu.test.ts', 'test/nn/*-webgpu.test.ts', 'test/engine/*-webgpu.test.ts', 'test/train/*-webgpu.test.ts'];

// The runtime packages the benchmark loads, each with its own dependencies.
const packages = ['tsx', 'esbuild', '@esbuild/linux-x64', 'zod', '@huggingface/jinja', '@huggingface/tokenizers', 'webgpu'];
const closure = new Set();
function add(name) {
  if (closure.has(name)) return;
  const dir = join(root, 'node_modules', name);
  if (!existsSync(join(dir, 'package.json'))) fail(`node_modules/${name} is missing: run npm install first`);
  closure.add(name);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const dep of Object.keys(pkg.dependencies ?? {})) add(dep);
  for (const dep of Object.keys(pkg.optionalDependencies ?? {})) if (existsSync(join(root, 'node_modules', dep, 'package.json'))) add(dep);
}
packages.forEach(add);

rmSync(kit, { recursive: true, force: true });
const stage = join(kit, 'stage');
mkdirSync(join(stage, '.gpukit', 'bin'), { recursive: true });
cpSync(process.execPath, join(stage, '.gpukit', 'bin', 'node'));
for (const name of closure) {
  // webgpu ships Dawn for five platforms (132 MB) and its build scripts: keep index.js and linux-x64's Dawn.
  const from = join(root, 'node_modules', name);
  const filter = name !== 'webgpu' ? () => true : (src) => {
    const rel = relative(from, src).split(/[/\\]/);
    return !(rel[0] === 'dist' && rel.length > 1 && rel[1] !== 'linux-x64') && rel[0] !== 'build' && rel[0] !== 'test';
  };
  cpSync(from, join(stage, 'node_modules', name), { recursive: true, filter });
}
console.log(`gpu-kit: packing Node ${process.version} and ${closure.size} packages (${[...closure].join(', ')})`);
execFileSync('tar', ['-C', stage, '-cJf', join(kit, 'kit.tar.xz'), '.gpukit', 'node_modules'], { stdio: 'inherit', env: { ...process.env, XZ_OPT: '-6 -T2' } });
rmSync(stage, { recursive: true, force: true });

// The Vulkan loader, as a .deb (the GPU machine's image may lack it; dpkg -x installs it without apt).
try {
  execFileSync('apt-get', ['download', 'libvulkan1'], { cwd: kit, stdio: 'pipe' });
} catch (e) {
  fail(`apt-get download libvulkan1 failed (${String(e.stderr ?? e.message).trim()}); run apt-get update first`);
}

const bytes = readdirSync(kit).reduce((s, f) => s + statSync(join(kit, f)).size, 0);
const native = join(root, 'native', 'build', 'Release', 'r1ts.node');
if (!existsSync(native)) fail('native/build/Release/r1ts.node is missing: run npm run build:native (the benchmark\'s CPU anchor loads it)');

// On the GPU machine: unpack, install the loader, find the driver's ICD, run the benchmark. The
// CPU anchor runs with R1TS_THREADS=2 (the 2-core CPU backend) on that machine's CPU.
const run = [
  'set -o pipefail',
  "python3 -c \"import tarfile; tarfile.open('.gpukit/kit.tar.xz').extractall('.')\"",
  'for f in .gpukit/*.deb; do dpkg -x $f /; done; ldconfig',
  'for j in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do [ -f $j ] && export VK_DRIVER_FILES=$j VK_ICD_FILENAMES=$j && break; done',
  'nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw --format=csv 2>&1 | tee $OUT/gpu.txt',
  `CI=true .gpukit/bin/node --import tsx --test --test-reporter=tap ${DEVICE_TESTS.join(' ')} > $OUT/tests-webgpu.txt 2>&1; echo "device tests: exit $?"; grep -E '^# (tests|pass|fail|skipped) |^not ok' $OUT/tests-webgpu.txt`,
  'R1TS_THREADS=2 .gpukit/bin/node --import tsx bench/webgpu.ts --json ${BENCH_ARGS:-} 2>&1 | tee $OUT/bench-webgpu.txt',
].join('; ');
writeFileSync(join(kit, 'RUN.txt'), `${run}\n`);
console.log(`gpu-kit: .gpukit/ holds ${(bytes / 2 ** 20).toFixed(1)} MiB (the device tool carries at most 64 MiB with the working tree)`);
console.log('gpu-kit: carry [".gpukit", "native/build"] and run:');
console.log(run);

if (check) {
  // A fresh clone of HEAD, the kit and the addon copied in, the command run here on small sizes.
  const dir = mkdtempSync(join(tmpdir(), 'gpukit-check-'));
  const out = join(dir, 'out');
  mkdirSync(out);
  try {
    execFileSync('git', ['clone', '-q', root, join(dir, 'repo')], { stdio: 'inherit' });
    cpSync(kit, join(dir, 'repo', '.gpukit'), { recursive: true });
    cpSync(join(root, 'native', 'build'), join(dir, 'repo', 'native', 'build'), { recursive: true });
    // Here dpkg -x into / would touch this machine: skip that line, the loader is installed already.
    const local = run.replace('for f in .gpukit/*.deb; do dpkg -x $f /; done; ldconfig', 'true');
    execFileSync('bash', ['-c', local], {
      cwd: join(dir, 'repo'), stdio: 'inherit',
      env: { ...process.env, OUT: out, PATH: '/usr/bin:/bin', BENCH_ARGS: '--sizes=64 --seconds=0.2 --train-batch=2 --train-seq=16 --decode-batch=2 --decode-tokens=4 --nucleus-vocab=32768' },
    });
    const tests = readFileSync(join(out, 'tests-webgpu.txt'), 'utf8');
    if (!/^# fail 0$/m.test(tests) || !/^# pass [1-9]/m.test(tests)) fail(`the device tests did not all pass in the check:\n${tests.slice(-2000)}`);
    const last = readFileSync(join(out, 'bench-webgpu.txt'), 'utf8').trim().split('\n').at(-1);
    const report = JSON.parse(last);
    if (report.bench !== 'webgpu' || !Array.isArray(report.attention) || report.attention.length === 0 || !report.train || typeof report.train.null_host_step_ms !== 'number' || !report.train_moe || !report.decode || !report.nucleus) fail(`the check's benchmark line is incomplete: ${last}`);
    console.log(`gpu-kit: check passed in a clean clone: adapter ${report.adapter.device || report.adapter.description}, JSON line complete`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
