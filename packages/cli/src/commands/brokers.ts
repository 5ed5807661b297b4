// `tributary brokers set-config ID key=value…`: broker-level dynamic configs.

import { UsageError, intArg, stringList, type Command } from '../command.ts';

/**
 * Broker configs the cluster understands; others are refused here, before any request. Only the
 * follower-side throttle exists (the follower's fetcher limits itself); the controller refuses
 * any other name.
 */
export const BROKER_CONFIGS = ['follower.replication.throttled.rate'] as const;

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
