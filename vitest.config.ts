import { defineConfig } from 'vitest/config';

// The levels of tests (STYLE.md): unit tests beside the code, multi-process tests that start
// real processes on loopback (one file at a time: seven Node processes share two cores), and,
// each with a command of its own because they need something the README's requirements do not
// list, browser tests (a system Chromium) and container tests (a Docker engine).
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
          name: 'browser',
          include: ['packages/*/test/**/*.browser.test.ts'],
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
