// npm run build: the installable package in dist/.
// - dist/index.js: the construct and the stack, one ESM file; aws-cdk-lib and constructs stay imports (peers).
// - dist/functions/<name>/index.mjs: the Lambda bundles, built with the stack's own options, so a consumer's
//   synth needs neither esbuild nor this project's lock file.
// - dist/cli.js: the `campaign-inbox` command (the package's bin), one executable ESM file holding everything it
//   runs (SDK clients, valibot, ...), so a consumer needs no dependency of ours; dist/page/index.html and
//   dist/examples/<provider>/*.json beside it are the page it serves and the payloads `send` posts (the
//   repository's examples/payloads).
// - dist/types/: declarations, with relative imports spelled as NodeNext resolves them (`./x.js`).
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { bundleFunction } from '../infra/bundle-function';
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
  await bundleFunction({
    entry: join(ROOT, 'functions', name, 'handler.ts'),
    outfile: join(DIST, 'functions', name, 'index.mjs'),
    external,
    logLevel: 'warning',
  });
}

// The CLI: the AWS SDK's full credential chain (profiles, SSO), not the functions' environment-only alias; the
// local servers (dynalite, fauxqs) stay out, needed only to open a stopped local stack's data.
await build({
  entryPoints: [join(ROOT, 'scripts/cli.ts')],
  outfile: join(DIST, 'cli.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  mainFields: ['module', 'main'],
  external: ['dynalite', 'fauxqs'],
  define: { CAMPAIGN_INBOX_BUNDLE: 'true' },
  banner: { js: `#!/usr/bin/env node\n${BUNDLING.banner}` },
  logLevel: 'warning',
});
chmodSync(join(DIST, 'cli.js'), 0o755);
mkdirSync(join(DIST, 'page'), { recursive: true });
copyFileSync(join(ROOT, 'functions/campaign-dashboard/page/index.html'), join(DIST, 'page/index.html'));
// The lake's Athena queries, read by the construct at synth (lib/lake/lake-queries.ts looks beside the bundle).
mkdirSync(join(DIST, 'lake', 'queries'), { recursive: true });
for (const name of readdirSync(join(ROOT, 'lib/lake/queries')).filter((file) => file.endsWith('.sql')))
  copyFileSync(join(ROOT, 'lib/lake/queries', name), join(DIST, 'lake', 'queries', name));
const EXAMPLES = join(ROOT, 'examples/payloads');
for (const provider of readdirSync(EXAMPLES, { withFileTypes: true })) {
  if (!provider.isDirectory()) continue;
  const examples = readdirSync(join(EXAMPLES, provider.name)).filter((name) => name.endsWith('.json'));
  mkdirSync(join(DIST, 'examples', provider.name), { recursive: true });
  for (const name of examples)
    copyFileSync(join(EXAMPLES, provider.name, name), join(DIST, 'examples', provider.name, name));
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
