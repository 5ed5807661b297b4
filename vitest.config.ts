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
        // The README's walkthroughs as written (issue 17): on the default ports, so a command of
        // their own rather than part of `int`, which runs on free port blocks beside other work.
        test: {
          name: 'docs',
          include: ['packages/*/test/**/*.docs.test.ts'],
          globalSetup: ['packages/e2e/test/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The README's Docker block: needs a Docker engine and Compose v2's `docker compose`.
        test: {
          name: 'docs-docker',
          include: ['packages/*/test/**/*.docs-docker.test.ts'],
          globalSetup: ['packages/e2e/test/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 1_200_000,
          hookTimeout: 300_000,
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
