// `tributary topics create | list | describe | alter | delete | elect-leaders`.

import { DEFAULT_TOPIC_CONFIGS, TributaryError, resolveTopicConfigs, type TopicConfigs } from '@tributary/protocol';
import type { TopicDescription, VerboseTopicDescription } from '@tributary/client';
import { UsageError, intArg, stringList, type Command, type CommandContext } from '../command.ts';
import { renderTable } from '../table.ts';
import { byBrokerView, renderByBroker } from '../by-broker.ts';
import { replicationFactor } from '../watch-view.ts';

export const topicsCreate: Command = {
  path: ['topics', 'create'],
  summary: 'create a topic and wait until every partition has a leader',
  usage: 'topics create NAME --partitions N --replication-factor R [--config k=v]…',
  positionals: ['NAME'],
  options: {
    partitions: { type: 'string', short: 'p' },
    'replication-factor': { type: 'string', short: 'r' },
    config: { type: 'string', multiple: true, short: 'c' },
  },
  flagHelp: [
    '-p, --partitions N           number of partitions',
    '-r, --replication-factor R   copies of each partition (at most the number of live brokers)',
    '-c, --config k=v             a topic config, repeatable, e.g. --config min.insync.replicas=2',
  ],
  details: [
    'topic configs: min.insync.replicas, retention.ms, retention.bytes, segment.bytes, segment.ms,',
    '  unclean.leader.election.enable, max.message.bytes, index.interval.bytes, flush.messages, flush.ms,',
    '  cleanup.policy (delete | compact | compact,delete), delete.retention.ms, min.cleanable.dirty.ratio,',
    '  min.compaction.lag.ms, max.compaction.lag.ms',
    '',
    'example: tributary topics create demo --partitions 10 --replication-factor 3',
    'example: tributary topics create users --partitions 3 --replication-factor 3 --config cleanup.policy=compact --config segment.ms=60000',
  ],
  async run(ctx) {
    const [name] = ctx.positionals as [string];
    if (ctx.values.partitions === undefined) throw new UsageError('--partitions is required', ctx.command);
    if (ctx.values['replication-factor'] === undefined) throw new UsageError('--replication-factor is required', ctx.command);
    const partitions = intArg(ctx.values.partitions, '--partitions', ctx.command, 1);
    const replicationFactor = intArg(ctx.values['replication-factor'], '--replication-factor', ctx.command, 1);
    const configs = parseConfigs(stringList(ctx.values.config), ctx.command);
    const topic = await ctx.admin().createTopic({ name, partitions, replicationFactor, configs });
    if (ctx.json) ctx.io.out(JSON.stringify(topic));
    else ctx.io.out(`created topic '${name}' with ${partitions} partition${partitions === 1 ? '' : 's'}, replication factor ${replicationFactor}`);
  },
};

/** `k=v` strings to a config map, validated against the topic config schema (usage errors). */
export function parseConfigs(pairs: readonly string[], command: Command): Record<string, string> {
  const configs: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--config wants k=v, got '${pair}'`, command);
    configs[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  try {
    resolveTopicConfigs(configs);
  } catch (err) {
    if (err instanceof TributaryError) throw new UsageError(err.message, command);
    throw err;
  }
  return configs;
}

export const topicsList: Command = {
  path: ['topics', 'list'],
  summary: 'list topic names',
  usage: 'topics list',
  async run(ctx) {
    const topics = await ctx.admin().describeTopics();
    if (ctx.json) {
      ctx.io.out(JSON.stringify(topics.map((t) => ({ name: t.name, partitions: t.partitions.length, replicationFactor: replicationFactor(t.partitions[0]) }))));
      return;
    }
    for (const t of topics) ctx.io.out(t.name);
  },
};

export const topicsDescribe: Command = {
  path: ['topics', 'describe'],
  summary: 'show partitions: leader, leader epoch, replicas, ISR',
  usage: 'topics describe NAME [--by-broker] [--verbose]',
  positionals: ['NAME'],
  options: {
    'by-broker': { type: 'boolean', short: 'b' },
    verbose: { type: 'boolean', short: 'v' },
  },
  flagHelp: [
    "-b, --by-broker   one row per broker (rack-alternated, as the seed's table): partitions it leads and follows",
    "-v, --verbose     add each leader's high watermark, log start, log end and per-replica lag",
  ],
  details: ['In --by-broker, P4* marks a follower outside the ISR and (fenced) a broker the controller fenced.'],
  async run(ctx) {
    const [name] = ctx.positionals as [string];
    const admin = ctx.admin();
    if (ctx.values['by-broker']) {
      const [cluster, topic] = await Promise.all([admin.describeCluster(), admin.describeTopic(name)]);
      const rows = byBrokerView(cluster, topic);
      if (ctx.json) {
        ctx.io.out(JSON.stringify({ topic: name, brokers: rows }));
        return;
      }
      const { cells, legend } = renderByBroker(rows);
      for (const line of renderTable(cells)) ctx.io.out(line);
      if (legend.length > 0) ctx.io.out(legend.join('; '));
      return;
    }
    const topic = ctx.values.verbose ? await admin.describeTopicVerbose(name) : await admin.describeTopic(name);
    if (ctx.json) {
      ctx.io.out(JSON.stringify(topic));
      return;
    }
    for (const line of describeLines(topic, ctx.values.verbose === true)) ctx.io.out(line);
  },
};

/** The describe output: a summary line and one aligned row per partition. */
export function describeLines(topic: TopicDescription | VerboseTopicDescription, verbose: boolean): string[] {
  const rf = replicationFactor(topic.partitions[0]);
  const lines = [`topic ${topic.name}  partitions ${topic.partitions.length}  replication-factor ${rf}  ${formatConfigs(topic.configs)}`.trimEnd()];
  const header = ['PARTITION', 'LEADER', 'EPOCH', 'REPLICAS', 'ISR'];
  if (verbose) header.push('HW', 'LOG-START', 'LEO', 'LAG');
  const rows = topic.partitions.map((p) => {
    const row = [String(p.partition), p.leader < 0 ? 'none' : String(p.leader), String(p.leaderEpoch), p.replicas.join(','), p.isr.join(',')];
    if (verbose) {
      const v = p as VerboseTopicDescription['partitions'][number];
      if (v.highWatermark === undefined) row.push('?', '?', '?', v.error ?? 'leader unavailable');
      else row.push(String(v.highWatermark), String(v.logStartOffset), String(v.logEndOffset), formatLag(v));
    }
    return row;
  });
  lines.push(...renderTable(rows, { header }));
  return lines;
}

function formatLag(p: VerboseTopicDescription['partitions'][number]): string {
  return (p.replicaStates ?? [])
    .filter((r) => r.brokerId !== p.leader)
    .map((r) => `B${r.brokerId}:${r.lagRecords}${r.lagRecords > 0 ? `(${(r.lastCaughtUpMsAgo / 1000).toFixed(1)}s)` : ''}`)
    .join(' ');
}

/** min.insync.replicas always, other configs only where they differ from the defaults. */
function formatConfigs(configs: TopicConfigs | undefined): string {
  if (!configs) return '';
  const shown: string[] = [];
  for (const [k, v] of Object.entries(configs)) {
    if (k === 'min.insync.replicas' || v !== (DEFAULT_TOPIC_CONFIGS as unknown as Record<string, unknown>)[k]) shown.push(`${k}=${v}`);
  }
  return shown.join(' ');
}

export const topicsAlter: Command = {
  path: ['topics', 'alter'],
  summary: 'add partitions to a topic (never fewer, as in Kafka); new ones are placed rack-aware',
  usage: 'topics alter NAME --partitions N',
  positionals: ['NAME'],
  options: { partitions: { type: 'string', short: 'p' } },
  flagHelp: ['-p, --partitions N   the new total, above the current count'],
  details: [
    'Partitions are never removed: a count not above the current one is refused with INVALID_PARTITIONS and changes nothing.',
    'The new partitions get the replication factor of partition 0, placed as if the topic had been created that large; keyed',
    'records map over the new count once producers refresh their metadata, so a key may land in another partition than before.',
    "To change topic configs: 'tributary configs alter --topic NAME --set k=v'.",
    '',
    'example: tributary topics alter demo --partitions 12',
  ],
  async run(ctx) {
    const [name] = ctx.positionals as [string];
    if (ctx.values.partitions === undefined) throw new UsageError('--partitions is required: the new total number of partitions', ctx.command);
    const total = intArg(ctx.values.partitions, '--partitions', ctx.command, 1);
    const admin = ctx.admin();
    const before = (await admin.describeTopic(name)).partitions.length;
    const topic = await admin.createPartitions(name, total);
    if (ctx.json) {
      ctx.io.out(JSON.stringify({ ...topic, partitionsBefore: before }));
      return;
    }
    ctx.io.out(`topic '${name}' now has ${topic.partitions.length} partitions (${before} before)`);
    for (const p of topic.partitions.filter((x) => x.partition >= before))
      ctx.io.out(`  P${p.partition}: replicas ${p.replicas.join(',')}, leader B${p.leader}`);
  },
};

export const topicsDelete: Command = {
  path: ['topics', 'delete'],
  summary: 'delete a topic and its data',
  usage: 'topics delete NAME',
  positionals: ['NAME'],
  async run(ctx) {
    const [name] = ctx.positionals as [string];
    await ctx.admin().deleteTopic(name);
    ctx.io.out(ctx.json ? JSON.stringify({ deleted: name }) : `deleted topic '${name}'`);
  },
};

export const topicsElectLeaders: Command = {
  path: ['topics', 'elect-leaders'],
  summary: "move leadership back to each partition's preferred replica (first in its list)",
  usage: 'topics elect-leaders NAME [--partition N]…',
  positionals: ['NAME'],
  options: { partition: { type: 'string', multiple: true } },
  flagHelp: ['--partition N   only these partitions (repeatable)'],
  async run(ctx) {
    const [name] = ctx.positionals as [string];
    const partitions = stringList(ctx.values.partition).map((p) => intArg(p, '--partition', ctx.command, 0));
    const result = await ctx.admin().electLeaders(name, partitions.length > 0 ? partitions : undefined);
    if (ctx.json) {
      ctx.io.out(JSON.stringify(result));
      return;
    }
    if (result.elected.length === 0) {
      ctx.io.out(`no leader changed: every partition of '${name}' is led by its preferred replica (or it is not in the ISR)`);
      return;
    }
    for (const e of result.elected) ctx.io.out(`P${e.partition} -> leader B${e.leader}`);
  },
};

export const topicsCommands: readonly Command[] = [topicsCreate, topicsList, topicsDescribe, topicsAlter, topicsDelete, topicsElectLeaders];

export type { CommandContext };
