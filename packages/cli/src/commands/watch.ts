// `tributary watch [TOPIC]`: the seed's table, live. Every interval it reads the metadata through
// the client (so it works against the local and the compose cluster alike), diffs it with the
// previous snapshot for events, and redraws the frame in place on a terminal; when stdout is not
// a terminal it prints each frame after a separator instead. Ctrl-C stops it.

import type { Admin } from '@tributary/client';
import { compactBootstrap } from '../bootstrap.ts';
import { optionalIntArg, type Command } from '../command.ts';
import { CLEAR_LINE_END, CLEAR_SCREEN, CLEAR_SCREEN_END, HIDE_CURSOR, HOME, SHOW_CURSOR, pause } from '../terminal.ts';
import { sampleProgress } from '../reassign-ops.ts';
import { reassignmentProgress, type ProgressReport, type ProgressSample } from '../reassign-progress.ts';
import { diffSnapshots, partitionProblems, renderFrame, type WatchEvent, type WatchGroup, type WatchSnapshot } from '../watch-view.ts';

const EVENTS_KEPT_MAX = 100;
const DEFAULT_MIN_ISR = 2;

/** Groups described per frame, at most (the first by name). */
const GROUPS_SHOWN_MAX = 20;

/** Every group (up to GROUPS_SHOWN_MAX) as `groups describe` reads it; undefined when they cannot be listed. */
export async function readGroups(admin: Admin): Promise<WatchGroup[] | undefined> {
  try {
    const listed = await admin.listGroups({ timeoutMs: 2000 });
    const ids = listed.groups
      .map((g) => g.groupId)
      .sort()
      .slice(0, GROUPS_SHOWN_MAX);
    const views = await Promise.all(ids.map((id) => admin.describeGroup(id, { timeoutMs: 2000 }).catch(() => undefined)));
    return views.filter((v) => v !== undefined);
  } catch {
    return undefined;
  }
}

/** How long a frame waits for a fresh read of the groups before it shows the last one. */
const GROUPS_WAIT_MS = 1000;

/**
 * The groups for each frame, read beside the frames: listing them asks every broker, and a paused
 * or dying one holds its answer for seconds. A frame waits at most GROUPS_WAIT_MS for a fresh read
 * and otherwise shows the last one (none before the first), while the read goes on for the next.
 */
export class GroupsFeed {
  private latest: WatchGroup[] | undefined;
  private pending: Promise<void> | undefined;
  private readonly admin: Admin;

  constructor(admin: Admin) {
    this.admin = admin;
  }

  async read(waitMs = GROUPS_WAIT_MS): Promise<WatchGroup[] | undefined> {
    this.pending ??= readGroups(this.admin)
      .then((groups) => {
        this.latest = groups;
      })
      .finally(() => {
        this.pending = undefined;
      });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.pending, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    return this.latest;
  }
}

export async function takeSnapshot(admin: Admin, nowMs: number, groupsFeed?: GroupsFeed): Promise<WatchSnapshot> {
  const [cluster, topics, groups] = await Promise.all([admin.describeCluster(), admin.describeTopics(), groupsFeed ? groupsFeed.read() : readGroups(admin)]);
  return {
    ...(groups !== undefined ? { groups } : {}),
    timeMs: nowMs,
    brokers: cluster.brokers.map((b) => ({ id: b.id, rack: b.rack, alive: b.alive })),
    topics: topics.map((t) => ({
      name: t.name,
      minInsyncReplicas: t.configs?.['min.insync.replicas'] ?? DEFAULT_MIN_ISR,
      partitions: t.partitions.map((p) => ({
        partition: p.partition,
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
        replicas: p.replicas,
        isr: p.isr,
        addingReplicas: p.addingReplicas ?? [],
        removingReplicas: p.removingReplicas ?? [],
      })),
    })),
  };
}

export const watch: Command = {
  path: ['watch'],
  summary: "live view of the seed's table: leaders and followers per broker, problem partitions, consumer groups and their lag, events",
  usage: 'watch [TOPIC] [--interval-ms N] [--iterations N]',
  positionals: ['[TOPIC]'],
  options: {
    'interval-ms': { type: 'string', short: 'i' },
    iterations: { type: 'string', short: 'n' },
  },
  flagHelp: [
    '-i, --interval-ms N  time between redraws (default 500 on a terminal, 2000 otherwise)',
    '-n, --iterations N   stop after N frames (default: run until Ctrl-C)',
    '--json               one JSON line per frame: problem partitions and new events',
  ],
  details: [
    "Rows are brokers in rack-alternated order (as the seed's table); P4* marks a follower outside the ISR.",
    'P6+ marks a replica a reassignment is adding (copying), P6- one it removes once the new ones are in sync; while partitions',
    'move, their copy progress (bytes, percent, ETA; bars on a terminal) is shown under the table.',
    'Below: partitions offline, under-replicated or under min ISR; consumer groups with their state, members, the partitions each',
    'member reads and the lag per partition; and leadership / ISR / broker / reassignment / group events seen since the watch started.',
    'On a terminal the frame is redrawn in place; piped, each frame is printed after a separator line.',
  ],
  async run(ctx) {
    const [topic] = ctx.positionals as [string | undefined];
    const tty = ctx.io.isTTY === true && !ctx.json;
    const intervalMs = optionalIntArg(ctx.values['interval-ms'], '--interval-ms', ctx.command, 50) ?? (tty ? 500 : 2000);
    const iterations = optionalIntArg(ctx.values.iterations, '--iterations', ctx.command, 1);
    const signal = ctx.io.signal;
    const admin = ctx.admin();
    const source = compactBootstrap(ctx.bootstrap);
    const events: WatchEvent[] = [];
    let previous: WatchSnapshot | undefined;
    let lastError: string | undefined;
    // The last progress sample, for rates and ETAs between frames.
    let progressSample: ProgressSample | undefined;
    const groupsFeed = new GroupsFeed(admin);
    if (tty) ctx.io.out(HIDE_CURSOR + CLEAR_SCREEN);
    try {
      for (let frame = 0; iterations === undefined || frame < iterations; frame++) {
        if (signal?.aborted) break;
        const nowMs = Date.now();
        let lines: string[];
        let fresh: WatchEvent[] = [];
        let reassignments: ProgressReport | undefined;
        try {
          const snapshot = await takeSnapshot(admin, nowMs, groupsFeed);
          fresh = diffSnapshots(previous, snapshot);
          previous = snapshot;
          lastError = undefined;
          events.push(...fresh);
          if (events.length > EVENTS_KEPT_MAX) events.splice(0, events.length - EVENTS_KEPT_MAX);
          // Copy progress only while something moves: it asks the leaders, metadata alone does not say.
          const moving = snapshot.topics.some(
            (t) => (topic === undefined || t.name === topic) && t.partitions.some((p) => (p.addingReplicas?.length ?? 0) > 0),
          );
          if (moving) {
            const sample = await sampleProgress(admin, Date.now, topic === undefined ? undefined : [topic]).catch(() => undefined);
            if (sample !== undefined) {
              reassignments = reassignmentProgress(progressSample, sample);
              progressSample = sample;
            }
          } else progressSample = undefined;
          const options = { source, bars: tty, ...(topic === undefined ? {} : { topic }), ...(reassignments === undefined ? {} : { reassignments }) };
          lines = renderFrame(snapshot, events, options);
        } catch (err) {
          // The cluster may be restarting: keep watching, and say so.
          lastError = (err as Error).message;
          lines =
            previous === undefined
              ? [`tributary watch ${topic ?? '(all topics)'}  ${source}`]
              : renderFrame(previous, events, topic === undefined ? { source } : { source, topic });
        }
        if (lastError !== undefined) lines.push('', `cannot read the metadata: ${lastError} (retrying)`);
        if (ctx.json) {
          const topics = previous?.topics.filter((t) => topic === undefined || t.name === topic) ?? [];
          ctx.io.out(
            JSON.stringify({
              timeMs: nowMs,
              problems: partitionProblems(topics),
              ...(previous?.groups !== undefined ? { groups: previous.groups } : {}),
              events: fresh,
              ...(reassignments !== undefined ? { reassignments } : {}),
              ...(lastError !== undefined ? { error: lastError } : {}),
            }),
          );
        } else if (tty) {
          ctx.io.out(HOME + lines.map((l) => l + CLEAR_LINE_END).join('\n') + CLEAR_SCREEN_END);
        } else {
          if (frame > 0) ctx.io.out('---');
          for (const line of lines) ctx.io.out(line);
        }
        if (iterations !== undefined && frame + 1 >= iterations) break;
        await pause(intervalMs, signal);
      }
    } finally {
      if (tty) ctx.io.out(SHOW_CURSOR);
    }
  },
};
