// `tributary reassign generate | execute | status | cancel`: Kafka's kafka-reassign-partitions
// (KIP-455) on Tributary's Admin API. generate proposes a plan (reassign-plan.ts), execute checks
// the whole plan and starts it, optionally throttled; status shows each move's copy progress and,
// once the moves are done, removes the throttle (Kafka's --verify); cancel puts partitions back.

import { readFileSync, writeFileSync } from 'node:fs';
import { TributaryError } from '@tributary/client';
import { UsageError, intArg, optionalIntArg, stringList, type Command, type CommandContext } from '../command.ts';
import { proposePlan, type PlanEntry, type ProposedPlan } from '../reassign-plan.ts';
import { cancelPartitions, executePlan, readCluster, removeFinishedThrottles, sampleProgress, type Execution } from '../reassign-ops.ts';
import { formatBytes, reassignmentProgress, renderProgress, type ProgressReport } from '../reassign-progress.ts';
import { parsePlan } from '../reassign-validate.ts';
import { renderTable } from '../table.ts';
import { FramePrinter, pause } from '../terminal.ts';

/** `a,b c` (commas or repeated flags) to a list of names. */
export function listArg(value: unknown): string[] {
  return stringList(value)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

/** `0,1,2` to broker ids; a usage error names a bad one. */
export function brokerListArg(value: unknown, name: string, command: Command): number[] {
  return listArg(value).map((v) => intArg(v, `${name} entry`, command, 0));
}

function readPlanFile(path: string, command: Command): PlanEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the plan file '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, command);
  }
  return parsePlan(text, path);
}

/** The plan of `reassign generate` as the summary lines it prints beside the JSON; `rackOf` names the racks of brokers not given. */
export function planSummary(proposed: ProposedPlan, rackOf: (id: number) => string | undefined = () => undefined): string[] {
  const lines: string[] = [];
  if (proposed.plan.partitions.length === 0) {
    lines.push('no replica needs to move: every partition is on the given brokers, rack-aware, and replicas and leaders are balanced');
  } else {
    const n = proposed.plan.partitions.length;
    lines.push(
      `${n} partition${n > 1 ? 's' : ''} to reassign: ${proposed.moves} replica${proposed.moves === 1 ? '' : 's'} to copy, ${proposed.leaderChanges} preferred-leader change${proposed.leaderChanges === 1 ? '' : 's'}`,
    );
    for (const e of proposed.plan.partitions) {
      const was = proposed.current.partitions.find((c) => c.topic === e.topic && c.partition === e.partition)!.replicas;
      lines.push(`  ${e.topic}-${e.partition}: [${was.join(',')}] -> [${e.replicas.join(',')}]`);
    }
  }
  for (const t of proposed.load) {
    lines.push(`${t.topic}, per broker (replicas, preferred leaderships: before -> after):`);
    const rows = t.brokers.map((b) => [
      `  ${b.rack === '?' ? (rackOf(b.brokerId) ?? '?') : b.rack}/B${b.brokerId}`,
      `replicas ${b.replicasBefore} -> ${b.replicasAfter}`,
      `leads ${b.leadersBefore} -> ${b.leadersAfter}`,
    ]);
    lines.push(...renderTable(rows));
  }
  for (const w of proposed.warnings) lines.push(`warning: ${w}`);
  return lines;
}

export const reassignGenerate: Command = {
  path: ['reassign', 'generate'],
  summary: 'propose a rack-aware, balanced reassignment of topics over brokers, with the fewest replica moves (JSON)',
  usage: 'reassign generate --topics T[,T…] --brokers ID,ID,… [--output FILE]',
  options: {
    topics: { type: 'string', multiple: true, short: 't' },
    brokers: { type: 'string', short: 'b' },
    output: { type: 'string', short: 'o' },
  },
  flagHelp: [
    '-t, --topics T[,T…]    the topics to plan (repeatable or comma-separated)',
    '-b, --brokers ID,…     the brokers their replicas may be on afterwards (registered ones)',
    '-o, --output FILE      write the plan to FILE and print the summary on stdout',
  ],
  details: [
    'Prints the plan on stdout as Kafka\'s reassignment JSON, {"version":1,"partitions":[{"topic","partition","replicas"}]},',
    'listing only the partitions that change, and a summary on stderr; --json prints one object with the plan, the current',
    'lists of those partitions (the plan back), the move counts and per-broker load before and after.',
    'The plan: no two replicas of a partition in one rack while a rack holds none; per topic, every broker within one',
    'replica of the average; the fewest replicas copied; preferred leaders spread as evenly as possible (see',
    'packages/cli/src/reassign-plan.ts for the objective and tie-breaks). Deterministic.',
    '',
    'example: tributary reassign generate --topics demo --brokers 0,1,2,3,4,5,6 > plan.json',
  ],
  async run(ctx) {
    const topics = listArg(ctx.values.topics);
    if (topics.length === 0) throw new UsageError('--topics is required: the topics to plan', ctx.command);
    if (ctx.values.brokers === undefined) throw new UsageError('--brokers is required: the brokers the replicas may be on', ctx.command);
    const ids = brokerListArg(ctx.values.brokers, '--brokers', ctx.command);
    const cluster = await readCluster(ctx.admin());
    const registered = new Map(cluster.brokers.map((b) => [b.id, b]));
    const unknown = ids.filter((id) => !registered.has(id));
    if (unknown.length > 0) {
      throw new TributaryError(
        'INVALID_REPLICA_ASSIGNMENT',
        `--brokers names broker${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}, not registered (registered: ${[...registered.keys()].join(', ')})`,
      );
    }
    const busy = cluster.reassigning.filter((r) => topics.includes(r.topic));
    if (busy.length > 0) {
      throw new TributaryError(
        'REASSIGNMENT_IN_PROGRESS',
        `${busy.map((r) => `${r.topic}-${r.partition}`).join(', ')} ${busy.length > 1 ? 'are' : 'is'} being reassigned; wait for it (tributary reassign status) or cancel it (tributary reassign cancel), then plan again`,
      );
    }
    const proposed = proposePlan({
      brokers: ids.map((id) => ({ id, rack: registered.get(id)!.rack })),
      partitions: cluster.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition, replicas: p.replicas }))),
      topics,
    });
    const output = typeof ctx.values.output === 'string' ? ctx.values.output : undefined;
    const planText = JSON.stringify(proposed.plan);
    if (output !== undefined) writeFileSync(output, `${planText}\n`);
    if (ctx.json) {
      ctx.io.out(
        JSON.stringify({
          ...proposed.plan,
          current: proposed.current,
          moves: proposed.moves,
          leaderChanges: proposed.leaderChanges,
          load: proposed.load,
          warnings: proposed.warnings,
        }),
      );
      return;
    }
    const summary = planSummary(proposed, (id) => registered.get(id)?.rack);
    if (output !== undefined) {
      for (const line of summary) ctx.io.out(line);
      ctx.io.out(`wrote the plan to ${output}; start it with: tributary reassign execute ${output}`);
      return;
    }
    ctx.io.out(planText);
    for (const line of summary) ctx.io.err(line);
  },
};

/** What execute says it did. */
export function executionLines(execution: Execution, source: string): string[] {
  const lines: string[] = [];
  const n = execution.start.length;
  if (n === 0) {
    lines.push(`nothing to do: every partition of ${source} already has the replicas it names`);
    return lines;
  }
  lines.push(
    `started reassigning ${n} partition${n > 1 ? 's' : ''}: ${execution.start.map((e) => `${e.topic}-${e.partition} -> [${e.replicas.join(',')}]`).join(', ')}`,
  );
  if (execution.unchanged.length > 0) lines.push(`already as planned: ${execution.unchanged.map((e) => `${e.topic}-${e.partition}`).join(', ')}`);
  for (const note of execution.notes) lines.push(`note: ${note}`);
  if (execution.throttle) {
    const t = execution.throttle;
    lines.push(
      `throttled at ${formatBytes(t.rateBytesPerSec)}/s (${t.rateBytesPerSec} B/s): leader and follower rates on broker${t.brokers.length > 1 ? 's' : ''} ${t.brokers.join(', ')}, the moving replicas listed in ${t.topics.map((x) => x.topic).join(', ')}'s throttled-replica configs`,
    );
  }
  lines.push(
    `follow it with 'tributary reassign status'${execution.throttle ? ' (once every move is done it removes the throttle)' : ''}; undo it with 'tributary reassign cancel'`,
  );
  return lines;
}

export const reassignExecute: Command = {
  path: ['reassign', 'execute'],
  summary: 'start the reassignments of a plan file, optionally throttled; the whole plan is checked first',
  usage: 'reassign execute FILE [--throttle BYTES_PER_S]',
  positionals: ['FILE'],
  options: { throttle: { type: 'string' } },
  flagHelp: [
    '--throttle BYTES_PER_S  limit the copying to this many bytes/s per broker, leader and follower side',
    "                        (Kafka's leader/follower.replication.throttled.rate and throttled-replica lists);",
    "                        'tributary reassign status' removes it once every move is done",
  ],
  details: [
    'Refuses the whole plan, changing nothing, when any entry names an unknown topic, partition or broker, a broker',
    'twice, more replicas than registered brokers, or a partition already being reassigned; each problem is named.',
    'Large plans are started in several calls of at most 1000 partitions, each within the admin request limits (64 KiB).',
    '',
    'example: tributary reassign execute plan.json --throttle 50000000',
  ],
  async run(ctx) {
    const [file] = ctx.positionals as [string];
    const throttle = optionalIntArg(ctx.values.throttle, '--throttle', ctx.command, 1);
    const entries = readPlanFile(file, ctx.command);
    const execution = await executePlan(ctx.admin(), entries, file, throttle === undefined ? {} : { throttleBytesPerSec: throttle });
    if (ctx.json) {
      ctx.io.out(
        JSON.stringify({
          started: execution.start,
          unchanged: execution.unchanged,
          notes: execution.notes,
          ...(execution.throttle ? { throttle: execution.throttle } : {}),
        }),
      );
      return;
    }
    for (const line of executionLines(execution, file)) ctx.io.out(line);
  },
};

/** Per entry of a plan file: done, still moving, or not as planned (changed since, or never started). */
export function planState(
  entries: readonly PlanEntry[],
  topics: readonly { name: string; partitions: readonly { partition: number; replicas: readonly number[] }[] }[],
  reassigning: readonly { topic: string; partition: number }[],
): { topic: string; partition: number; state: 'done' | 'in progress' | 'not as planned'; replicas: number[] }[] {
  return entries.map((e) => {
    const replicas = [...(topics.find((t) => t.name === e.topic)?.partitions.find((p) => p.partition === e.partition)?.replicas ?? [])];
    const moving = reassigning.some((r) => r.topic === e.topic && r.partition === e.partition);
    const done = !moving && replicas.length === e.replicas.length && replicas.every((r, i) => r === e.replicas[i]);
    return { topic: e.topic, partition: e.partition, state: moving ? 'in progress' : done ? 'done' : 'not as planned', replicas };
  });
}

export const reassignStatus: Command = {
  path: ['reassign', 'status'],
  summary: 'show the reassignments in progress (copy progress, ETA); once they are done, remove their throttle',
  usage: 'reassign status [FILE] [--topics T,…] [--watch] [--interval-ms N]',
  positionals: ['[FILE]'],
  options: {
    topics: { type: 'string', multiple: true, short: 't' },
    watch: { type: 'boolean', short: 'w' },
    'interval-ms': { type: 'string', short: 'i' },
  },
  flagHelp: [
    'FILE                 also say, per partition of this plan, whether it is done, in progress or not as planned',
    '-t, --topics T,…     only these topics',
    '-w, --watch          redraw until every reassignment is done (in place on a terminal, with progress bars)',
    '-i, --interval-ms N  time between the two samples a rate comes from, and between redraws (default 1000)',
  ],
  details: [
    'Per partition: the target replicas, those being added and removed, the leader, bytes copied of the bytes to copy',
    "(the leader's log size per added replica), percent, and the ETA at the rate the copy closed the gap between two",
    "samples. When no partition of a throttled topic is being reassigned any more, it deletes the topic's throttled-replica",
    "lists and the rates of the brokers they named (Kafka's --verify), so the throttle never outlives the reassignment.",
  ],
  async run(ctx) {
    const [file] = ctx.positionals as [string | undefined];
    const topicsFlag = listArg(ctx.values.topics);
    const intervalMs = optionalIntArg(ctx.values['interval-ms'], '--interval-ms', ctx.command, 10) ?? 1000;
    const entries = file === undefined ? undefined : readPlanFile(file, ctx.command);
    const topics = topicsFlag.length > 0 ? topicsFlag : entries !== undefined ? [...new Set(entries.map((e) => e.topic))] : undefined;
    const admin = ctx.admin();
    const signal = ctx.io.signal;
    const watch = ctx.values.watch === true;
    const printer = new FramePrinter(ctx.io, ctx.io.isTTY === true && !ctx.json);
    try {
      let prev = await sampleProgress(admin, Date.now, topics);
      for (;;) {
        if (prev.partitions.length > 0 && !signal?.aborted) await pause(intervalMs, signal);
        let next = prev.partitions.length > 0 ? await sampleProgress(admin, Date.now, topics) : prev;
        const removed = await removeFinishedThrottles(admin);
        // The removal reads the reassignments after `next` was sampled. When it found some finished
        // that `next` still showed moving, sample again: the answer that says the throttle is gone
        // also says they are done (else a caller waiting for `done` never sees the removal).
        if (next.partitions.length > 0 && (removed.topics.length > 0 || removed.brokers.length > 0)) next = await sampleProgress(admin, Date.now, topics);
        const report = reassignmentProgress(prev.partitions.length > 0 ? prev : undefined, next);
        const done = next.partitions.length === 0;
        const states = entries === undefined ? undefined : planState(entries, (await readCluster(admin)).topics, next.partitions);
        if (ctx.json) {
          ctx.io.out(JSON.stringify({ done, ...report, ...(states ? { plan: states } : {}), throttleRemoved: removed }));
        } else {
          printer.frame(statusLines(report, states, removed, ctx.io.isTTY === true));
        }
        if (!watch || done || signal?.aborted) break;
        prev = next;
      }
    } finally {
      printer.end();
    }
  },
};

function statusLines(
  report: ProgressReport,
  states: ReturnType<typeof planState> | undefined,
  removed: { topics: string[]; brokers: number[] },
  bar: boolean,
): string[] {
  const lines = renderProgress(report, { bar });
  if (states !== undefined) {
    const count = (s: string) => states.filter((x) => x.state === s).length;
    lines.push('', `plan: ${count('done')} done, ${count('in progress')} in progress, ${count('not as planned')} not as planned`);
    for (const s of states.filter((x) => x.state === 'not as planned'))
      lines.push(`  ${s.topic}-${s.partition}: not as planned, replicas now [${s.replicas.join(',')}]`);
  }
  if (removed.topics.length > 0 || removed.brokers.length > 0) {
    lines.push(
      `removed the reassignment throttle: throttled-replica lists of ${removed.topics.join(', ') || 'no topic'}; rates of broker${removed.brokers.length === 1 ? '' : 's'} ${removed.brokers.join(', ') || 'none'}`,
    );
  }
  return lines;
}

export const reassignCancel: Command = {
  path: ['reassign', 'cancel'],
  summary: 'cancel reassignments in progress: partitions return to their replicas from before; then remove the throttle',
  usage: 'reassign cancel [FILE] [--topics T,…]',
  positionals: ['[FILE]'],
  options: { topics: { type: 'string', multiple: true, short: 't' } },
  flagHelp: ['FILE               only the partitions of this plan', '-t, --topics T,…   only these topics (default: every reassignment in progress)'],
  details: [
    'A cancelled partition gets its replica list back in its original order (so its preferred leader too); the replicas',
    'being added delete their copies. A cancel that would leave no original replica in sync is refused for that partition.',
  ],
  async run(ctx) {
    const [file] = ctx.positionals as [string | undefined];
    const entries = file === undefined ? undefined : readPlanFile(file, ctx.command);
    const topics = listArg(ctx.values.topics);
    const admin = ctx.admin();
    const reassigning = await admin.listPartitionReassignments(topics.length > 0 ? topics : undefined);
    const targets = reassigning.filter((r) => entries === undefined || entries.some((e) => e.topic === r.topic && e.partition === r.partition));
    const results = targets.length === 0 ? [] : await cancelPartitions(admin, targets);
    const removed = await removeFinishedThrottles(admin);
    const failed = results.filter((r) => r.error !== undefined);
    if (ctx.json) {
      ctx.io.out(JSON.stringify({ cancelled: results.filter((r) => r.error === undefined), refused: failed, throttleRemoved: removed }));
    } else {
      if (results.length === 0) ctx.io.out('no reassignment in progress to cancel');
      for (const r of results)
        ctx.io.out(r.error === undefined ? `${r.topic}-${r.partition}: cancelled` : `${r.topic}-${r.partition}: not cancelled: ${r.error}`);
      if (removed.topics.length > 0 || removed.brokers.length > 0) {
        ctx.io.out(
          `removed the reassignment throttle: lists of ${removed.topics.join(', ') || 'no topic'}; rates of brokers ${removed.brokers.join(', ') || 'none'}`,
        );
      }
    }
    return failed.length > 0 ? 1 : 0;
  },
};

export const reassignCommands: readonly Command[] = [reassignGenerate, reassignExecute, reassignStatus, reassignCancel];

export type { CommandContext };
