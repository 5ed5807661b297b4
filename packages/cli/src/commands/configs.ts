// `tributary configs describe | alter`: a topic's configs or a broker's dynamic configs (Kafka's
// kafka-configs, on the Admin API's describeConfigs / alterConfigs: IncrementalAlterConfigs'
// SET and DELETE, all or nothing).

import type { ConfigEntry, ConfigResource } from '@tributary/client';
import { UsageError, intArg, stringList, type Command, type CommandContext } from '../command.ts';
import { renderTable } from '../table.ts';

const RESOURCE_OPTIONS = {
  topic: { type: 'string' as const, short: 't' as const },
  broker: { type: 'string' as const, short: 'b' as const },
};
const RESOURCE_HELP = ['-t, --topic NAME   a topic', '-b, --broker ID    a broker (its dynamic configs: the replication throttle rates)'];

function resourceOf(ctx: CommandContext): ConfigResource {
  const topic = ctx.values.topic;
  const broker = ctx.values.broker;
  if ((topic === undefined) === (broker === undefined)) throw new UsageError('give exactly one of --topic NAME or --broker ID', ctx.command);
  return typeof topic === 'string' ? { topic } : { broker: intArg(broker, '--broker', ctx.command, 0) };
}

function describeResource(resource: ConfigResource): string {
  return 'topic' in resource ? `topic '${resource.topic}'` : `broker ${resource.broker}`;
}

/** NAME VALUE SOURCE rows; a broker config that is not set reads `(not set)`. */
export function configLines(entries: readonly ConfigEntry[]): string[] {
  const rows = entries.map((e) => [e.name, e.value === null ? '(not set)' : e.value === '' ? '(none)' : String(e.value), e.isDefault ? 'default' : 'set']);
  return renderTable(rows, { header: ['NAME', 'VALUE', 'SOURCE'] });
}

export const configsDescribe: Command = {
  path: ['configs', 'describe'],
  summary: "show a topic's configs or a broker's dynamic configs, and which are set",
  usage: 'configs describe --topic NAME | --broker ID',
  options: RESOURCE_OPTIONS,
  flagHelp: RESOURCE_HELP,
  async run(ctx) {
    const resource = resourceOf(ctx);
    const entries = await ctx.admin().describeConfigs(resource);
    if (ctx.json) {
      ctx.io.out(JSON.stringify({ resource, configs: entries }));
      return;
    }
    ctx.io.out(`configs of ${describeResource(resource)}`);
    for (const line of configLines(entries)) ctx.io.out(line);
  },
};

export const configsAlter: Command = {
  path: ['configs', 'alter'],
  summary: "set or delete a topic's configs or a broker's dynamic configs (all or nothing); topics apply them live",
  usage: 'configs alter --topic NAME | --broker ID [--set k=v]… [--delete k]…',
  options: { ...RESOURCE_OPTIONS, set: { type: 'string', multiple: true, short: 's' }, delete: { type: 'string', multiple: true, short: 'd' } },
  flagHelp: [
    ...RESOURCE_HELP,
    '-s, --set k=v      set a config (repeatable)',
    '-d, --delete k     back to its default, or no limit for a broker rate (repeatable)',
  ],
  details: [
    'topic configs: min.insync.replicas, retention.ms, retention.bytes, segment.bytes, segment.ms,',
    '  unclean.leader.election.enable, max.message.bytes, index.interval.bytes, flush.messages, flush.ms,',
    '  leader.replication.throttled.replicas, follower.replication.throttled.replicas',
    'broker configs: leader.replication.throttled.rate, follower.replication.throttled.rate (bytes/s)',
    'Values are checked as at topic creation; one bad entry refuses the whole change (INVALID_CONFIG) and nothing changes.',
    '',
    'example: tributary configs alter --topic demo --set retention.ms=3600000 --delete segment.bytes',
  ],
  async run(ctx) {
    const resource = resourceOf(ctx);
    const set: Record<string, string> = {};
    for (const pair of stringList(ctx.values.set)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`--set wants k=v, got '${pair}'`, ctx.command);
      set[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
    }
    const deletes = stringList(ctx.values.delete).map((k) => k.trim());
    if (Object.keys(set).length === 0 && deletes.length === 0) throw new UsageError('nothing to change: give --set k=v or --delete k', ctx.command);
    const entries = await ctx.admin().alterConfigs(resource, { set, delete: deletes });
    if (ctx.json) {
      ctx.io.out(JSON.stringify({ resource, configs: entries }));
      return;
    }
    const shown = new Set([...Object.keys(set), ...deletes]);
    ctx.io.out(`altered ${describeResource(resource)}:`);
    for (const line of configLines(entries.filter((e) => shown.has(e.name)))) ctx.io.out(line);
  },
};

export const configsCommands: readonly Command[] = [configsDescribe, configsAlter];
