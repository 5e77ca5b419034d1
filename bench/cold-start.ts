// Cold start of the deployed bundles: size, and the median time a fresh Node process takes to import each,
// with the AWS SDK bundled in (what we deploy) and left external (what Lambda's runtime would provide).
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFunction } from '../infra/bundle-function';
import { BUNDLING } from '../infra/bundling';

const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, 'bench', '.out');
const RUNS = Number(process.env.BENCH_RUNS ?? 21);

const ENV = {
  ...process.env,
  QUEUE_URL: 'http://127.0.0.1:9/000000000000/q',
  // As deployed: the secret comes from Secrets Manager, so its client is built at import.
  SIGNING_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench',
  SORI_SECRET_KEY: 'bench',
  POWERTOOLS_LOG_LEVEL: 'INFO',
  TABLE_NAME: 'bench',
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

export interface BundleFigures {
  name: string;
  bytes: number;
  importMsMedian: number;
}

/**
 * Bundles an entry as the stack does (ESM, minified, tree-shaken). `alias` is the stack's module substitution
 * (the environment-only credential provider); the baseline is bundled without it, as a typical project is.
 */
export async function bundle(
  name: string,
  entry: string,
  external: string[],
  alias: Record<string, string> = BUNDLING.alias,
): Promise<string> {
  mkdirSync(OUT, { recursive: true });
  const outfile = join(OUT, `${name}.mjs`);
  await bundleFunction({ entry, outfile, external, alias, logLevel: 'silent' });
  return outfile;
}

/** Wall time of `import(file)` in a fresh process, measured inside that process. */
function importOnce(file: string): number {
  const script = `const t=performance.now();await import(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t))`;
  return Number(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: ENV, cwd: ROOT }),
  );
}

/**
 * Median import time of each file over `runs` fresh processes, the files taking turns run by run, so a slow
 * moment of a noisy machine falls on all of them alike.
 */
export function importTimes(files: string[], runs = RUNS): number[] {
  const times = files.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [f, file] of files.entries()) times[f]?.push(importOnce(file));
  }
  return times.map((list) => {
    list.sort((a, b) => a - b);
    return list[Math.floor(list.length / 2)] ?? Number.NaN;
  });
}

export interface BundleSpec {
  name: string;
  entry: string;
  external: string[];
  alias?: Record<string, string>;
}

/** Bundles each, then measures their imports side by side. */
export async function measureBundles(specs: BundleSpec[]): Promise<BundleFigures[]> {
  const files: string[] = [];
  for (const spec of specs) files.push(await bundle(spec.name, spec.entry, spec.external, spec.alias));
  const medians = importTimes(files);
  return specs.map((spec, i) => ({
    name: spec.name,
    bytes: statSync(files[i] as string).size,
    importMsMedian: medians[i] ?? Number.NaN,
  }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await measureBundles(
    ['receive-webhook', 'process-webhook'].flatMap((fn) => {
      const entry = join(ROOT, 'functions', fn, 'handler.ts');
      return [
        { name: `${fn} (SDK bundled)`, entry, external: [] },
        { name: `${fn} (SDK external)`, entry, external: ['@aws-sdk/*'] },
      ];
    }),
  );
  console.table(
    rows.map((r) => ({
      bundle: r.name,
      'size (KiB)': (r.bytes / 1024).toFixed(1),
      'import median (ms)': r.importMsMedian.toFixed(1),
    })),
  );
}
