// `tributary brokers set-config ID key=value…`: broker-level dynamic configs.
// `tributary brokers decommission ID`: every replica off a broker, by a generated plan.

import { TributaryError, type Admin } from '@tributary/client';
import { UsageError, intArg, optionalIntArg, stringList, type Command } from '../command.ts';
import { proposePlan, type PlanEntry } from '../reassign-plan.ts';
import { executePlan, readCluster, removeFinishedThrottles, sampleProgress } from '../reassign-ops.ts';
import { reassignmentProgress, renderProgress } from '../reassign-progress.ts';
import { FramePrinter, pause } from '../terminal.ts';
import { executionLines, planSummary } from './reassign.ts';

/**
 * Broker configs the cluster understands (protocol's BROKER_DYNAMIC_CONFIGS): the replication
 * throttles of KIP-73; others are refused here, before any request.
 */
export const BROKER_CONFIGS = ['leader.replication.throttled.rate', 'follower.replication.throttled.rate'] as const;

export const brokersSetConfig: Command = {
  path: ['brokers', 'set-config'],
  summary: 'set (or remove) a broker-level dynamic config, e.g. a replication throttle',
  usage: 'brokers set-config ID key=value… [--delete key]…',
  positionals: ['ID', '[key=value...]'],
  options: { delete: { type: 'string', multiple: true, short: 'd' } },
  flagHelp: ['-d, --delete key   remove the setting (same as key=-1), repeatable'],
  details: [`configs: ${BROKER_CONFIGS.join(', ')} (bytes/s)`, 'example: tributary brokers set-config 3 follower.replication.throttled.rate=1024'],
  async run(ctx) {
    const command = ctx.command;
    const [idText, ...pairs] = ctx.positionals as [string, ...string[]];
    const brokerId = intArg(idText, 'broker ID', command, 0);
    const configs: Record<string, number> = {};
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`expected key=value, got '${pair}'`, command);
      const name = checkName(pair.slice(0, eq), command);
      configs[name] = intArg(pair.slice(eq + 1), name, command, -1);
    }
    for (const name of stringList(ctx.values.delete)) configs[checkName(name, command)] = -1;
    if (Object.keys(configs).length === 0) throw new UsageError('nothing to set: give key=value or --delete key', command);
    await ctx.admin().setBrokerConfig(brokerId, configs);
    if (ctx.json) {
      ctx.io.out(JSON.stringify({ brokerId, configs }));
      return;
    }
    for (const [k, v] of Object.entries(configs)) ctx.io.out(v === -1 ? `broker ${brokerId}: removed ${k}` : `broker ${brokerId}: set ${k}=${v}`);
  },
};

function checkName(name: string, command: Command): string {
  const trimmed = name.trim();
  if (!(BROKER_CONFIGS as readonly string[]).includes(trimmed)) {
    throw new UsageError(`unknown broker config '${trimmed}'; known: ${BROKER_CONFIGS.join(', ')}`, command);
  }
  return trimmed;
}

/** How long decommission waits, after the moves, for the broker to delete the logs it no longer holds. */
const DELETION_WAIT_MS = 30_000;

export const brokersDecommission: Command = {
  path: ['brokers', 'decommission'],
  summary: 'move every replica off a broker (a rack-aware, balanced plan over the others) and say when it holds nothing',
  usage: 'brokers decommission ID [--throttle BYTES_PER_S] [--interval-ms N]',
  positionals: ['ID'],
  options: { throttle: { type: 'string' }, 'interval-ms': { type: 'string', short: 'i' } },
  flagHelp: [
    '--throttle BYTES_PER_S  limit the copying to this many bytes/s per broker (removed when done)',
    '-i, --interval-ms N     time between progress reports (default 1000 on a terminal, 5000 otherwise)',
  ],
  details: [
    'Plans, as `reassign generate --brokers <every live broker but ID>` does for each topic with a replica on ID, starts',
    'the plan as `reassign execute` does, shows its progress until every move is done, removes the throttle, then waits',
    'until no partition lists ID and the broker itself reports holding no replica of those topics. Ctrl-C stops watching;',
    "the moves go on ('tributary reassign status' follows them, 'tributary reassign cancel' undoes them).",
    '',
    'example: tributary brokers decommission 5 --throttle 50000000',
  ],
  async run(ctx) {
    const command = ctx.command;
    const [idText] = ctx.positionals as [string];
    const id = intArg(idText, 'broker ID', command, 0);
    const throttle = optionalIntArg(ctx.values.throttle, '--throttle', command, 1);
    const tty = ctx.io.isTTY === true && !ctx.json;
    const intervalMs = optionalIntArg(ctx.values['interval-ms'], '--interval-ms', command, 10) ?? (tty ? 1000 : 5000);
    const admin = ctx.admin();
    const signal = ctx.io.signal;
    const cluster = await readCluster(admin);
    const registered = cluster.brokers.map((b) => b.id);
    if (!registered.includes(id)) {
      throw new TributaryError('INVALID_REQUEST', `broker ${id} is not registered (registered: ${registered.join(', ')}); see 'tributary cluster'`);
    }
    const others = cluster.brokers.filter((b) => b.alive && b.id !== id);
    const on = (p: { replicas: readonly number[] }) => p.replicas.includes(id);
    const topics = cluster.topics.filter((t) => t.partitions.some(on)).map((t) => t.name);
    const say = (line: string) => {
      if (!ctx.json) ctx.io.out(line);
    };
    let plan: PlanEntry[] = [];
    if (topics.length > 0) {
      const busy = cluster.reassigning.filter((r) => topics.includes(r.topic));
      if (busy.length > 0) {
        throw new TributaryError(
          'REASSIGNMENT_IN_PROGRESS',
          `${busy.map((r) => `${r.topic}-${r.partition}`).join(', ')} ${busy.length > 1 ? 'are' : 'is'} being reassigned; wait for it (tributary reassign status) or cancel it (tributary reassign cancel) first`,
        );
      }
      const proposed = proposePlan({
        brokers: others.map((b) => ({ id: b.id, rack: b.rack })),
        partitions: cluster.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition, replicas: p.replicas }))),
        topics,
      });
      plan = proposed.plan.partitions;
      say(`decommissioning broker ${id}: it holds ${cluster.topics.reduce((n, t) => n + t.partitions.filter(on).length, 0)} replicas of ${topics.join(', ')}`);
      for (const line of planSummary(proposed, (b) => cluster.brokers.find((x) => x.id === b)?.rack)) say(line);
      const execution = await executePlan(admin, plan, `the plan for broker ${id}`, throttle === undefined ? {} : { throttleBytesPerSec: throttle });
      for (const line of executionLines(execution, `the plan for broker ${id}`).slice(0, -1)) say(line);
      const printer = new FramePrinter(ctx.io, tty);
      try {
        let prev = await sampleProgress(admin, Date.now, topics);
        while (prev.partitions.some((p) => plan.some((e) => e.topic === p.topic && e.partition === p.partition))) {
          await pause(intervalMs, signal);
          if (signal?.aborted) {
            printer.end();
            ctx.io.err(
              `stopped watching; broker ${id} is still being emptied: follow it with 'tributary reassign status', undo it with 'tributary reassign cancel'`,
            );
            return 1;
          }
          const next = await sampleProgress(admin, Date.now, topics);
          if (next.partitions.length > 0 && !ctx.json) {
            const lines = renderProgress(reassignmentProgress(prev, next), { bar: tty });
            printer.frame(tty ? [`decommissioning broker ${id}`, ...lines] : lines.slice(0, 1));
          }
          prev = next;
        }
      } finally {
        printer.end();
      }
    }
    const removed = await removeFinishedThrottles(admin);
    if (removed.topics.length > 0 || removed.brokers.length > 0)
      say(`removed the reassignment throttle (rates of brokers ${removed.brokers.join(', ') || 'none'})`);
    // Empty by the metadata, then by the broker's own account (it deletes the logs it no longer holds).
    const after = await readCluster(admin);
    const still = after.topics.flatMap((t) => t.partitions.filter(on).map((p) => `${t.name}-${p.partition}`));
    if (still.length > 0)
      throw new TributaryError('INVALID_REPLICA_ASSIGNMENT', `broker ${id} is still assigned ${still.join(', ')}; see 'tributary reassign status'`);
    const alive = after.brokers.find((b) => b.id === id)?.alive === true;
    let held: string[] = [];
    if (alive) {
      const deadline = Date.now() + DELETION_WAIT_MS;
      for (;;) {
        held = await heldBy(admin, id, topics);
        if (held.length === 0 || Date.now() >= deadline || signal?.aborted) break;
        await pause(250, signal);
      }
      if (held.length > 0)
        throw new TributaryError('REQUEST_TIMED_OUT', `no partition lists broker ${id}, but after ${DELETION_WAIT_MS} ms it still holds ${held.join(', ')}`);
    }
    if (ctx.json) {
      ctx.io.out(JSON.stringify({ broker: id, moved: plan, holdsNothing: true, confirmedByBroker: alive, throttleRemoved: removed }));
      return;
    }
    ctx.io.out(
      alive
        ? `broker ${id} holds nothing: no partition lists it and it reports no replica; it can be stopped`
        : `broker ${id} holds nothing by the metadata: no partition lists it (it is fenced, so it could not confirm its disk)`,
    );
  },
};

/** The replicas broker `id` still holds of `topics`, by its own account (replica-digests, no batches read). */
async function heldBy(admin: Admin, id: number, topics: readonly string[]): Promise<string[]> {
  const held: string[] = [];
  for (const topic of topics) {
    let partitions: number;
    try {
      partitions = (await admin.describeTopic(topic)).partitions.length;
    } catch {
      continue; // Deleted meanwhile: nothing of it left to hold.
    }
    // From past the end to 0: the broker lists what it holds and reads no batch.
    const asked = Array.from({ length: partitions }, (_, partition) => ({ partition, fromOffset: Number.MAX_SAFE_INTEGER, toOffset: 0 }));
    const replicas = await admin.replicaDigests(id, topic, { partitions: asked, pagesMax: 1 });
    for (const r of replicas) held.push(`${topic}-${r.partition}`);
  }
  return held;
}
