// Cold start of the deployed bundles: size, and the median time a fresh Node process takes to import each,
// with the AWS SDK bundled in (what we deploy) and left external (what Lambda's runtime would provide).
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
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

/** Bundles `functions/<name>/handler.ts` as the stack does (ESM, minified, tree-shaken). */
export async function bundle(name: string, entry: string, external: string[]): Promise<string> {
  mkdirSync(OUT, { recursive: true });
  const outfile = join(OUT, `${name}.mjs`);
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourceMap,
    format: BUNDLING.format,
    target: BUNDLING.target,
    mainFields: [...BUNDLING.mainFields],
    external,
    banner: { js: BUNDLING.banner },
    logLevel: 'silent',
  });
  return outfile;
}

/** Median wall time of `import(file)` in a fresh process, measured inside that process. */
export function importTime(file: string, runs = RUNS): number {
  const script = `const t=performance.now();await import(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t))`;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    times.push(
      Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: ENV, cwd: ROOT })),
    );
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

export async function measureBundle(name: string, entry: string, external: string[]): Promise<BundleFigures> {
  const file = await bundle(name, entry, external);
  return { name, bytes: statSync(file).size, importMsMedian: importTime(file) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows: BundleFigures[] = [];
  for (const fn of ['receive-webhook', 'process-webhook']) {
    const entry = join(ROOT, 'functions', fn, 'handler.ts');
    rows.push(await measureBundle(`${fn} (SDK bundled)`, entry, []));
    rows.push(await measureBundle(`${fn} (SDK external)`, entry, ['@aws-sdk/*']));
  }
  console.table(
    rows.map((r) => ({
      bundle: r.name,
      'size (KiB)': (r.bytes / 1024).toFixed(1),
      'import median (ms)': r.importMsMedian.toFixed(1),
    })),
  );
}
