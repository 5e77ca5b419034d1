import { build, type LogLevel } from 'esbuild';
import { BUNDLING } from './bundling';

/**
 * Bundles one function as the stack's `NodejsFunction`s do ({@link BUNDLING}): the one esbuild call behind the
 * packaged bundles (`npm run build`), the tests that run a bundle as Lambda would, and the benchmarks. Kept apart
 * from `bundling.ts` so that a synth never loads esbuild.
 */
export async function bundleFunction(options: {
  entry: string;
  outfile: string;
  /** Modules left as imports (the runtime's SDK clients the package leaves out). */
  external?: string[];
  alias?: Record<string, string>;
  logLevel?: LogLevel;
}): Promise<string> {
  await build({
    entryPoints: [options.entry],
    outfile: options.outfile,
    bundle: true,
    platform: 'node',
    minify: BUNDLING.minify,
    keepNames: BUNDLING.keepNames,
    sourcemap: BUNDLING.sourceMap,
    format: BUNDLING.format,
    target: BUNDLING.target,
    mainFields: [...BUNDLING.mainFields],
    external: options.external ?? [],
    alias: options.alias ?? BUNDLING.alias,
    banner: { js: BUNDLING.banner },
    logLevel: options.logLevel ?? 'error',
  });
  return options.outfile;
}
