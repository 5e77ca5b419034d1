import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/.git/**', 'test/aws/**'],
    globalSetup: ['test/support/global-setup.ts'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', LOG_LEVEL: 'error' },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Files and the tests in each run in a shuffled order, so that a test that passes only after another one
    // fails here. The run prints its seed ("Running tests with seed …"); `npx vitest run --sequence.seed=<seed>`
    // runs that order again.
    sequence: { shuffle: true },
  },
});
