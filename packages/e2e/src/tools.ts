// Clients nobody here wrote, as processes (issue 19): kcat and Debian's python3-confluent-kafka.
// Missing tools fail the test with the install line (CI installs them: .ci/run), never skip it.

import { spawn, spawnSync } from 'node:child_process';

/** Debian's python, which python3-confluent-kafka installs into (a pyenv python3 first on PATH has no confluent_kafka). */
export const DEBIAN_PYTHON = '/usr/bin/python3';

export function requireTool(name: 'kcat' | 'confluent-kafka'): void {
  const ok =
    name === 'kcat'
      ? spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0
      : spawnSync(DEBIAN_PYTHON, ['-c', 'import confluent_kafka'], { stdio: 'ignore' }).status === 0;
  if (!ok) {
    const pkg = name === 'kcat' ? 'kcat' : 'python3-confluent-kafka';
    throw new Error(`${name} is not installed: apt-get install -y ${pkg} (.ci/run installs it)`);
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (or kills it after timeoutMs), feeding `input` on stdin. */
export function run(
  command: string,
  args: readonly string[],
  options: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
