import { join } from 'node:path';

/**
 * How every function is bundled (esbuild), in one place: the stack's functions use it, and so do the
 * benchmarks' bundles of ours and of the baseline, so what is measured is built as what is deployed.
 */
export const BUNDLING = {
  minify: true,
  // Class and function names kept through minification: errors are logged by their `name` (`SignatureError`,
  // `ConfigError`), which minifying would cut to a letter. It costs some 7 % of a bundle's bytes.
  keepNames: true,
  // No source maps: Node would parse them at every cold start.
  sourceMap: false,
  format: 'esm',
  target: 'node24',
  mainFields: ['module', 'main'],
  // ESM bundles of CommonJS dependencies need a require of their own.
  banner: "import { createRequire } from 'module';const require = createRequire(import.meta.url);",
  // The SDK's default credential chain, as Lambda runs it: the environment step only (see the module).
  alias: {
    '@aws-sdk/credential-provider-node': join(import.meta.dirname, '../lib/aws/env-credentials.ts'),
  } as Record<string, string>,
} as const;
