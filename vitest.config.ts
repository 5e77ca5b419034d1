import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/.git/**', 'test/aws/**'],
    globalSetup: ['test/support/global-setup.ts'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', LOG_LEVEL: 'error' },
    // Sized for a 2-core machine running the suite two files at a time under a CPU hog (CI does): the heaviest
    // tests (a bundle's synth, thousands of breakdown values, a schedule of faults) take 30 s there at times.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Three files at once on a 2-core machine (the default is one fewer than the cores): most of a file's time
    // is spent waiting on the local servers and child processes, not on the CPU.
    maxWorkers: 3,
    // Files and the tests in each run in a shuffled order, so that a test that passes only after another one
    // fails here. The run prints its seed ("Running tests with seed …"); `npx vitest run --sequence.seed=<seed>`
    // runs that order again.
    sequence: { shuffle: true },
  },
});
