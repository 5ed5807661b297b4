import { defineConfig } from 'vitest/config';

// Three levels of tests (STYLE.md): unit tests beside the code, multi-process tests that start
// real processes on loopback (one file at a time: seven Node processes share two cores), and
// container tests with their own command.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.unit.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'int',
          include: ['packages/*/test/**/*.int.test.ts'],
          globalSetup: ['packages/e2e/test/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'containers',
          include: ['packages/*/test/**/*.container.test.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
