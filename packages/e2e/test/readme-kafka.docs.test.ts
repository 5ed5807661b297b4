// Issue 19, docs that cannot rot: README.md's "Kafka clients" block, read from the README and run
// as written against a fresh `pnpm install && pnpm start` (the first of "The two commands"), as
// readme-try-it.docs.test.ts runs "Try it": kcat on the default Kafka ports 9092…9097, each line
// checked for exit 0 and for what readme-walkthroughs.ts says its output must show.
//
// The README's commands take no flags, so this runs on the default ports and fails at once when
// one is taken (default-ports.ts). The one thing it changes is $TRIBUTARY_DATA_DIR, which every
// `tributary local …` command and the CLI's default bootstrap honour (packages/cli/src/
// bootstrap.ts): a temp dir instead of ./.tributary, so a developer's own data stays untouched.
// `pnpm test:docs`; CI runs it after the README's test command.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localDown, processStatus, readState, type ClusterStateFile } from '@tributary/launcher';
import { eventually } from '@tributary/testkit';
import { claimDefaultPorts } from '../src/default-ports.ts';
import { planSteps, readReadme, readmeShellLines } from '../src/readme.ts';
import { REPO_ROOT, killGroup, runPlan } from '../src/readme-runner.ts';
import { KAFKA_CLIENTS, KAFKA_CLIENTS_HEADING, START_COMMAND, TWO_COMMANDS_HEADING, type TryItContext } from '../src/readme-walkthroughs.ts';
import { requireTool } from '../src/tools.ts';
import { e2eTempDir } from '../src/temp-dir.ts';

/** From `pnpm start` to "Ctrl-C stops the cluster": seven processes on a loaded 2-core machine. */
const READY_TIMEOUT_MS = 120_000;

describe('README.md: Kafka clients, as written', () => {
  let release: (() => void) | undefined;
  let work: { dir: string; cleanup: () => void } | undefined;
  let dataDir = '';
  let foreground: ChildProcess | undefined;
  let started: ClusterStateFile | undefined;

  afterAll(async () => {
    if (foreground && foreground.exitCode === null && foreground.signalCode === null) {
      await localDown(dataDir, { timeoutMs: 10_000 }).catch(() => undefined);
      killGroup(foreground.pid);
    }
    // A cluster the foreground no longer knows (it died first) is stopped by the pids it recorded.
    const state = started ?? (dataDir !== '' ? readState(dataDir) : undefined);
    for (const p of state?.processes ?? []) {
      if (processStatus(p) !== 'stopped') process.kill(p.pid, 'SIGKILL');
    }
    work?.cleanup();
    release?.();
  });

  it('runs every line of the block against a fresh `pnpm start`, each showing what the README says', async () => {
    const readme = readReadme();
    const startLine = readmeShellLines(readme, TWO_COMMANDS_HEADING).find((l) => START_COMMAND.test(l.command));
    if (!startLine)
      throw new Error(`README.md's '## ${TWO_COMMANDS_HEADING}' no longer has a line matching ${START_COMMAND}: how does Try it's cluster start?`);
    const { steps, unmatched } = planSteps(readmeShellLines(readme, KAFKA_CLIENTS_HEADING), KAFKA_CLIENTS);
    expect(unmatched, 'README.md "Kafka clients" no longer has these commands (edit readme-walkthroughs.ts with the README)').toEqual([]);
    requireTool('kcat');

    release = await claimDefaultPorts('the README test (Kafka clients)');
    work = e2eTempDir('readme-kafka');
    dataDir = join(work.dir, '.tributary');
    // A fresh shell's environment: nothing that points the CLI at some other cluster.
    const env: NodeJS.ProcessEnv = {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRIBUTARY_'))),
      TRIBUTARY_DATA_DIR: dataDir,
    };

    // The first terminal. In a process group of its own, as a shell runs a foreground job.
    let out = '';
    foreground = spawn('/bin/sh', ['-c', startLine.text], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    foreground.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    foreground.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => foreground!.once('exit', (code) => resolve(code)));
    // "with the cluster running": the foreground says so when the demo topic exists.
    await eventually(
      () => {
        if (foreground!.exitCode !== null) throw new Error(`README.md:${startLine.lineNo} \`${startLine.text}\` exited with ${foreground!.exitCode}:\n${out}`);
        return out.includes('Ctrl-C stops the cluster');
      },
      { timeoutMs: READY_TIMEOUT_MS, intervalMs: 200 },
    );
    started = readState(dataDir);
    // What the README says `pnpm start` does: the default ports, then the seed's broker table.
    expect(out).toContain(
      'cluster ready: controller 127.0.0.1:19090, brokers 127.0.0.1:19092 127.0.0.1:19093 127.0.0.1:19094 127.0.0.1:19095 127.0.0.1:19096 127.0.0.1:19097',
    );
    console.log(`ok  README.md:${startLine.lineNo} \`${startLine.text}\`: the cluster is running from ${dataDir}`);

    const ctx: TryItContext = {
      foregroundOutput: () => out,
      foregroundExit: (timeoutMs) => Promise.race([exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs).unref())]),
    };
    try {
      await runPlan(steps, ctx, { env, defaultTimeoutMs: 60_000, log: (line) => console.log(line) });
    } catch (err) {
      (err as Error).message += `\n--- the foreground (${startLine.text}), last lines\n${out.trimEnd().split('\n').slice(-30).join('\n')}`;
      throw err;
    }
  });
});
