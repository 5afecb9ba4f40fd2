// Builds the dashboard page (web/ → web/dist) with Vite's JavaScript API, no config file.
// Run by `npm install` (the prepare step) and `npm run build:web`. At install a failure
// only warns, so a missing or broken toolchain never stops the install: the dashboard's
// API still works, `/` says how to build the page, and the page's tests fail without it.
// --strict (npm run build:web) exits non-zero on failure instead.
// The "train in this tab" mode's worker (web/src/tab-worker.ts) bundles the r1ts engine from src/. Two of its
// modules are Node-only and have browser counterparts, swapped in here (as a package.json
// "browser" map would): src/core/env.ts → env-browser.ts (no process.env/node:os; selects the
// reference kernels) and src/backend/native/addon.ts → addon-browser.ts (no addon). Any other
// Node builtin reached from the page fails the build, naming the importing file: nothing is
// stubbed out silently.
import { existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, resolve } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const strict = process.argv.includes('--strict');
const web = join(root, 'web');

function fail(msg) {
  console.error(`build-web: ${msg}`);
  if (strict) process.exit(1);
  console.error('build-web: continuing without the dashboard page (`npm run build:web` to retry); `r1ts dashboard` serves the API only');
  process.exit(0);
}

if (!existsSync(join(web, 'index.html'))) fail(`${web}/index.html is missing`);

/** Node-only modules of src/ and their browser counterparts (each says why at its top). */
const BROWSER_SWAPS = new Map([
  [join(root, 'src/core/env.ts'), join(root, 'src/core/env-browser.ts')],
  [join(root, 'src/backend/native/addon.ts'), join(root, 'src/backend/native/addon-browser.ts')],
]);
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

const browserEngine = {
  name: 'r1ts-browser-engine',
  enforce: 'pre',
  resolveId(source, importer) {
    if (builtins.has(source) || source.startsWith('node:')) {
      throw new Error(`${importer ? relative(root, importer) : '?'} imports the Node builtin '${source}', which a browser page cannot load; route the page around that module (a browser-safe module, or a swap in scripts/build-web.mjs BROWSER_SWAPS)`);
    }
    if (!importer || !source.startsWith('.')) return null;
    const swap = BROWSER_SWAPS.get(resolve(importer, '..', source));
    return swap ?? null;
  },
};

let vite;
try {
  vite = await import('vite');
} catch (e) {
  fail(`vite is not installed (${e.message}); it is a devDependency: run \`npm install\` in the repository`);
}
try {
  await vite.build({
    root: web,
    configFile: false,
    base: './',
    logLevel: 'warn',
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    plugins: [browserEngine],
    // the in-tab training worker (web/src/tab-worker.ts) bundles the engine: the same swaps and checks
    worker: { format: 'es', plugins: () => [browserEngine] },
    build: { outDir: join(web, 'dist'), emptyOutDir: true, target: 'es2020', chunkSizeWarningLimit: 700, reportCompressedSize: false },
  });
  console.log(`build-web: ${join(web, 'dist')}`);
} catch (e) {
  fail(`the Vite build failed: ${e.message}`);
}
