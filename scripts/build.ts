// npm run build: the installable package in dist/.
// - dist/index.js: the construct and the stack, one ESM file; aws-cdk-lib and constructs stay imports (peers).
// - dist/functions/<name>/index.mjs: the Lambda bundles, built with the stack's own options, so a consumer's
//   synth needs neither esbuild nor this project's lock file.
// - dist/types/: declarations, with relative imports spelled as NodeNext resolves them (`./x.js`).
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { BUNDLING } from '../infra/bundling';
import { PACKAGED_FUNCTIONS } from '../infra/constructs/node-function';

const ROOT = resolve(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');

rmSync(DIST, { recursive: true, force: true });

await build({
  entryPoints: [join(ROOT, 'infra/index.ts')],
  outfile: join(DIST, 'index.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['aws-cdk-lib', 'aws-cdk-lib/*', 'constructs', 'esbuild'],
  banner: { js: BUNDLING.banner },
  logLevel: 'warning',
});

for (const [name, external] of Object.entries(PACKAGED_FUNCTIONS)) {
  await build({
    entryPoints: [join(ROOT, 'functions', name, 'handler.ts')],
    outfile: join(DIST, 'functions', name, 'index.mjs'),
    bundle: true,
    platform: 'node',
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourceMap,
    format: BUNDLING.format,
    target: BUNDLING.target,
    mainFields: [...BUNDLING.mainFields],
    external,
    alias: BUNDLING.alias,
    banner: { js: BUNDLING.banner },
    logLevel: 'warning',
  });
}

// Declarations of the package's entry and what it reaches.
const { execFileSync } = await import('node:child_process');
execFileSync(
  process.execPath,
  [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')],
  { stdio: 'inherit' },
);

/** Appends `.js` (or `/index.js`) to relative specifiers, as NodeNext requires of a package's declarations. */
function withExtensions(file: string): void {
  const text = readFileSync(file, 'utf8');
  const fixed = text.replace(
    /(from\s+|import\()(['"])(\.{1,2}\/[^'"]+)\2/g,
    (all, lead: string, quote: string, spec: string) => {
      if (spec.endsWith('.js')) return all;
      const target = resolve(dirname(file), spec);
      const ending = existsSync(`${target}.d.ts`)
        ? '.js'
        : existsSync(join(target, 'index.d.ts'))
          ? '/index.js'
          : '.js';
      return `${lead}${quote}${spec}${ending}${quote}`;
    },
  );
  if (fixed !== text) writeFileSync(file, fixed);
}

function walk(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.d.ts') ? [path] : [];
  });
}

for (const file of walk(join(DIST, 'types'))) withExtensions(file);
console.error(`build: ${relative(ROOT, DIST)}/ written`);
