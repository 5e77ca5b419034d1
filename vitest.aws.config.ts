import { defineConfig } from 'vitest/config';

/**
 * The AWS conformance suite (`npm run test:aws`): the synthesized bundles against moto, with moto's request
 * authentication on. Kept out of `npm test`, which needs no Python.
 */
export default defineConfig({
  test: {
    include: ['test/aws/**/*.test.ts'],
    globalSetup: ['test/aws/global-setup.ts'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', LOG_LEVEL: 'error' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at once: each test makes its own users, tables and queues in the one moto server, and most of a
    // file's time waits on it.
    maxWorkers: 2,
  },
});
