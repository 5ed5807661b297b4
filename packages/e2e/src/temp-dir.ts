// Temp dirs for multi-process tests, marked with the test run that made them, so that the run's
// teardown (test/global-setup.ts) stops the clusters in its own dirs and in no one else's.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@tributary/testkit';

/** Set by the global setup for the test workers: this run's id. */
export const E2E_RUN_ENV = 'TRIBUTARY_E2E_RUN';
/** The file in each test dir that holds the id of the run that made it. */
export const E2E_RUN_FILE = '.e2e-run';

/**
 * A fresh temp dir `tributary-<label>-XXXXXX` (named after its test, so data kept with
 * TRIBUTARY_KEEP_TEST_DATA is easy to find), marked with this run's id.
 */
export function e2eTempDir(label: string): { dir: string; cleanup: () => void } {
  const made = tempDir(`tributary-${label}-`);
  const runId = process.env[E2E_RUN_ENV];
  if (runId !== undefined) writeFileSync(join(made.dir, E2E_RUN_FILE), runId);
  return made;
}
