// Multi-process tests start real clusters. A test file that fails or times out before its
// afterAll may leave processes running; this teardown stops every cluster this run started so
// nothing outlives `pnpm test`. It knows them by the run id that e2eTempDir writes into each
// test's temp dir — not by name or age, since several runs (other checkouts, other users) may
// share the machine's temp dir, and their clusters are not this run's to stop.

import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processStatus, readState } from '@tributary/launcher';
import { E2E_RUN_ENV, E2E_RUN_FILE } from '../src/temp-dir.ts';

export function setup(): () => void {
  const runId = `${process.pid}-${Date.now()}`;
  // Test workers start after this and inherit it.
  process.env[E2E_RUN_ENV] = runId;
  return () => {
    for (const name of readdirSync(tmpdir())) {
      if (!name.startsWith('tributary-')) continue;
      const dir = join(tmpdir(), name);
      let owner: string;
      try {
        owner = readFileSync(join(dir, E2E_RUN_FILE), 'utf8');
      } catch {
        continue;
      }
      if (owner !== runId) continue;
      // A test may run `tributary local up` with no --data-dir from the temp dir: ./.tributary.
      const states = [readState(dir), readState(join(dir, '.tributary'))];
      for (const p of states.flatMap((state) => state?.processes ?? [])) {
        if (processStatus(p) === 'stopped') continue;
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      if (!process.env.TRIBUTARY_KEEP_TEST_DATA) rmSync(dir, { recursive: true, force: true });
    }
  };
}
