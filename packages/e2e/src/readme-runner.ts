// Runs a README walkthrough planned by readme.ts: each line through `sh -c`, exactly as written
// (its comment is a shell comment), from the repository root, in order; a line must exit 0, and
// a line with an expectation must show what the expectation says. The first line that does not
// stops the walkthrough with a message naming README.md:<line>.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { PlannedStep, StepOutput } from './readme.ts';

/** The repository root: where a reader runs the README's commands. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface RunLineOptions {
  env: NodeJS.ProcessEnv;
  /** A line still running after this long is killed (with its children) and fails. */
  timeoutMs: number;
}

/** One line through `sh -c` in a process group of its own, as a shell runs a command line. */
export function runLine(text: string, options: RunLineOptions): Promise<StepOutput & { timedOut: boolean; elapsedMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', text], { cwd: REPO_ROOT, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut, elapsedMs: performance.now() - started });
    });
  });
}

/** SIGKILL to a process group we started (a line, or the foreground cluster). */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export interface RunPlanOptions {
  env: NodeJS.ProcessEnv;
  /** For lines without an expectation, or whose expectation sets none. */
  defaultTimeoutMs: number;
  log: (line: string) => void;
}

/** Runs every step in order; throws at the first one that fails. */
export async function runPlan<Ctx>(steps: readonly PlannedStep<Ctx>[], ctx: Ctx, options: RunPlanOptions): Promise<void> {
  for (const { line, expectation } of steps) {
    const where = `README.md:${line.lineNo} \`${line.text.trim()}\``;
    const timeoutMs = expectation?.timeoutMs ?? options.defaultTimeoutMs;
    const deadline = Date.now() + (expectation?.settles?.withinMs ?? 0);
    let runs = 0;
    for (;;) {
      runs++;
      const out = await runLine(line.text, { env: options.env, timeoutMs });
      const shown = `\n--- stdout\n${tail(out.stdout)}\n--- stderr\n${tail(out.stderr)}`;
      if (out.timedOut) throw new Error(`${where} did not finish within ${timeoutMs} ms${shown}`);
      if (out.code !== 0) throw new Error(`${where} exited with ${out.code}${shown}`);
      const problem = expectation?.check ? await expectation.check(out, ctx) : undefined;
      if (problem === undefined) {
        const what = expectation ? `shows ${expectation.shows}` : 'exit 0 (no expectation for this line)';
        options.log(`ok  ${where}: ${what} [${(out.elapsedMs / 1000).toFixed(1)} s${runs > 1 ? `, run ${runs} times` : ''}]`);
        break;
      }
      const settles = expectation?.settles;
      if (settles === undefined || Date.now() >= deadline) {
        const waited = settles ? ` (run ${runs} times over ${settles.withinMs} ms: ${settles.because})` : '';
        throw new Error(`${where} should show ${expectation!.shows}${waited}, but ${problem}${shown}`);
      }
    }
  }
}

/** The end of an output, enough to see why it failed. */
function tail(text: string, lines = 40): string {
  const all = text.trimEnd().split('\n');
  return all.length > lines ? [`… (${all.length - lines} lines before)`, ...all.slice(-lines)].join('\n') : all.join('\n');
}
