// Runs the webgpu test files on a core WebGPU adapter over Vulkan, without a GPU: Dawn (the
// `webgpu` package) loads the Vulkan loader and SwiftShader's Vulkan driver that Chromium ships
// (Debian's chromium: /usr/lib/chromium/libvulkan.so.1, libvk_swiftshader.so and its ICD file).
// That is the backend and feature level a Linux GPU gets from Dawn (Vulkan, core), where
// `npm test` runs them on Mesa's llvmpipe through OpenGL ES (compatibility): the SPIR-V path,
// core limits and Vulkan's validation, checked before a GPU session. About 14 minutes on 2 cores
// one file at a time (R1TS_TEST_CONCURRENCY=1; 9 of them the command tests); `-- backend/webgpu`
// runs only the kernel files (5 minutes, two at a time, run-tests.mjs's default).
// Usage: npm run test:webgpu-vulkan [-- substring ...]   (the test files whose path contains one; default: webgpu)
//   R1TS_VK_ICD=/path/to/vk_swiftshader_icd.json picks another driver manifest.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const candidates = [process.env.R1TS_VK_ICD, '/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'].filter(Boolean);
const icd = candidates.find((p) => existsSync(p));
if (!icd) {
  console.error(`test-webgpu-vulkan: no SwiftShader Vulkan driver manifest (looked for ${candidates.join(', ')}); install Debian's chromium (apt-get install chromium) or set R1TS_VK_ICD`);
  process.exit(1);
}
const lib = dirname(icd);
const env = {
  ...process.env,
  CI: 'true', // a missing adapter fails rather than skips
  VK_ICD_FILENAMES: icd,
  LD_LIBRARY_PATH: [lib, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
};
// The adapter these tests will get must be the Vulkan one (a core adapter), not llvmpipe's compatibility one.
const probe = spawnSync(process.execPath, ['--import', 'tsx', '-e', `
  const { GpuContext } = await import('./src/backend/webgpu/device.ts');
  const ctx = await GpuContext.open({ backend: 'default' });
  console.log(ctx.describe());
  ctx.destroy();`], { cwd: root, env, encoding: 'utf8' });
const line = probe.stdout.trim().split('\n').at(-1) ?? '';
if (probe.status !== 0 || !/^webgpu default\/core:/.test(line)) {
  console.error(`test-webgpu-vulkan: Dawn found no core adapter through ${icd}:\n${probe.stdout}${probe.stderr}`);
  process.exit(1);
}
console.log(`test-webgpu-vulkan: ${line}`);
const filters = process.argv.slice(2);
const r = spawnSync(process.execPath, [join(root, 'scripts/run-tests.mjs'), ...(filters.length ? filters : ['webgpu'])], { cwd: root, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
