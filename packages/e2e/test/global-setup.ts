// Multi-process tests start real clusters. A test file that fails or times out before its
// afterAll may leave processes running; this teardown stops every cluster this run started
// (the e2e temp dirs created since setup, and their default data dirs) so nothing outlives
// `pnpm test`.

import { readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processStatus, readState } from '@tributary/launcher';

export function setup(): () => void {
  const startedMs = Date.now() - 1000;
  return () => {
    for (const name of readdirSync(tmpdir())) {
      if (!name.startsWith('tributary-e2e-')) continue;
      const dir = join(tmpdir(), name);
      let createdMs: number;
      try {
        createdMs = statSync(dir).birthtimeMs || statSync(dir).ctimeMs;
      } catch {
        continue;
      }
      if (createdMs < startedMs) continue;
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
