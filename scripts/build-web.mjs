// Builds the dashboard page (web/ → web/dist) with Vite's JavaScript API, no config file.
// Run by `npm install` (the prepare step) and `npm run build:web`. At install a failure
// only warns, so a missing or broken toolchain never stops the install: the dashboard's
// API still works, `/` says how to build the page, and the page's tests fail without it.
// --strict (npm run build:web) exits non-zero on failure instead.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

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
    build: { outDir: join(web, 'dist'), emptyOutDir: true, target: 'es2020', chunkSizeWarningLimit: 400, reportCompressedSize: false },
  });
  console.log(`build-web: ${join(web, 'dist')}`);
} catch (e) {
  fail(`the Vite build failed: ${e.message}`);
}
