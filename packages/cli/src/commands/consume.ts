// `tributary consume TOPIC`: prints record values, one per line, until stopped. With --group it
// reads as a member of a consumer group: the group assigns the partitions, and what it printed is
// committed (auto-commit, and on exit).

import { Consumer, type ConsumerRecord, type OffsetSpec } from '@tributary/client';
import { UsageError, optionalIntArg, type Command } from '../command.ts';

export const consume: Command = {
  path: ['consume'],
  summary: 'print records of a topic as they arrive (runs until Ctrl-C unless limited)',
  usage:
    'consume TOPIC [--from-beginning | --offset N] [--partition N] [--group G [--client-id ID] [--session-timeout-ms N] [--no-auto-commit]] [--max-messages N] [--timeout-ms N] [--rack R]',
  positionals: ['TOPIC'],
  options: {
    'from-beginning': { type: 'boolean' },
    offset: { type: 'string', short: 'o' },
    partition: { type: 'string', short: 'p' },
    'max-messages': { type: 'string', short: 'n' },
    'timeout-ms': { type: 'string', short: 't' },
    rack: { type: 'string' },
    group: { type: 'string', short: 'g' },
    'client-id': { type: 'string' },
    'session-timeout-ms': { type: 'string' },
    'no-auto-commit': { type: 'boolean' },
  },
  flagHelp: [
    '--from-beginning     start at the earliest offset (default: only new records)',
    '-o, --offset N       start at offset N',
    '-p, --partition N    read only partition N (default: all)',
    '-n, --max-messages N stop after N records',
    '-t, --timeout-ms N   stop after N ms without a new record (default: run until Ctrl-C)',
    "--rack R             the consumer's rack: read from a replica in that rack when the leader says so (KIP-392)",
    '-g, --group G        read as a member of consumer group G: its partitions are assigned by the group,',
    "                     each read from the group's committed offset (--from-beginning: the earliest where",
    '                     it has none, else only new records); what was printed is committed',
    "--client-id ID       the member's client id, shown by `groups describe` (default tributary-consumer)",
    '--session-timeout-ms N  how long the group waits for a member that stopped heartbeating (default 45000)',
    '--no-auto-commit     commit only on exit, not every 5 s',
    '--json               print {"topic","partition","offset","key","value"} per record',
  ],
  details: ['example: tributary consume demo --from-beginning --max-messages 10', 'example: tributary consume demo --group my-group --from-beginning'],
  async run(ctx) {
    const [topic] = ctx.positionals as [string];
    const command = ctx.command;
    const offset = optionalIntArg(ctx.values.offset, '--offset', command, 0);
    if (offset !== undefined && ctx.values['from-beginning']) throw new UsageError('use --from-beginning or --offset, not both', command);
    const partition = optionalIntArg(ctx.values.partition, '--partition', command, 0);
    const maxMessages = optionalIntArg(ctx.values['max-messages'], '--max-messages', command, 1);
    const timeoutMs = optionalIntArg(ctx.values['timeout-ms'], '--timeout-ms', command, 1);
    const from: OffsetSpec = offset ?? (ctx.values['from-beginning'] ? 'earliest' : 'latest');

    const rack = ctx.values.rack as string | undefined;
    const group = ctx.values.group as string | undefined;
    if (group === undefined) {
      for (const flag of ['client-id', 'session-timeout-ms', 'no-auto-commit'])
        if (ctx.values[flag] !== undefined) throw new UsageError(`--${flag} needs --group`, command);
    } else {
      if (group.length === 0) throw new UsageError('--group needs a group id', command);
      if (offset !== undefined) throw new UsageError("--offset does not go with --group: the group's committed offsets say where to start", command);
      if (partition !== undefined) throw new UsageError('--partition does not go with --group: the group assigns the partitions', command);
    }
    const sessionTimeoutMs = optionalIntArg(ctx.values['session-timeout-ms'], '--session-timeout-ms', command, 1);

    // The topic's partitions, and a clear error when it does not exist.
    const description = await ctx.admin().describeTopic(topic);
    const partitions = partition === undefined ? description.partitions.map((p) => p.partition) : [partition];
    if (partition !== undefined && partition >= description.partitions.length) {
      throw new UsageError(`topic '${topic}' has no partition ${partition} (it has ${description.partitions.length})`, command);
    }
    const consumer = new Consumer({
      ...ctx.clientOptions,
      ...(rack !== undefined ? { rack } : {}),
      maxWaitMs: timeoutMs !== undefined ? Math.min(500, timeoutMs) : 500,
      ...(group !== undefined
        ? {
            groupId: group,
            clientId: (ctx.values['client-id'] as string | undefined) ?? 'tributary-consumer',
            autoCommit: ctx.values['no-auto-commit'] !== true,
            ...(sessionTimeoutMs !== undefined ? { sessionTimeoutMs } : {}),
          }
        : {}),
    });
    ctx.onClose(() => consumer.close());
    if (group !== undefined) consumer.subscribe(topic, { from: ctx.values['from-beginning'] ? 'earliest' : 'latest' });
    else consumer.assign(partitions.map((p) => ({ topic, partition: p, offset: from })));
    const onAbort = (): void => void consumer.close();
    ctx.io.signal?.addEventListener('abort', onAbort, { once: true });

    let count = 0;
    let lastRecordMs = Date.now();
    try {
      while (!ctx.io.signal?.aborted) {
        const records = await consumer.poll();
        if (records.length > 0) lastRecordMs = Date.now();
        for (const [i, record] of records.entries()) {
          ctx.io.out(ctx.json ? formatJson(record) : (record.value?.toString('utf8') ?? 'null'));
          if (maxMessages !== undefined && ++count >= maxMessages) {
            // poll() counted the whole batch as consumed: a group commits only what was printed.
            if (group !== undefined) unconsume(consumer, records.slice(i + 1));
            return done(ctx, count);
          }
          if (maxMessages === undefined) count++;
        }
        if (timeoutMs !== undefined && Date.now() - lastRecordMs >= timeoutMs) break;
      }
    } finally {
      ctx.io.signal?.removeEventListener('abort', onAbort);
    }
    return done(ctx, count);
  },
};

/** Moves each partition back to its first record not printed, so that close() commits no further. */
function unconsume(consumer: Consumer, notPrinted: readonly ConsumerRecord[]): void {
  const first = new Map<string, ConsumerRecord>();
  for (const r of notPrinted) if (!first.has(`${r.topic}-${r.partition}`)) first.set(`${r.topic}-${r.partition}`, r);
  for (const r of first.values()) consumer.seek(r.topic, r.partition, r.offset);
}

function done(ctx: Parameters<Command['run']>[0], count: number): number {
  if (!ctx.json) ctx.io.err(`consumed ${count} record${count === 1 ? '' : 's'}`);
  return 0;
}

function formatJson(r: ConsumerRecord): string {
  return JSON.stringify({
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    key: r.key?.toString('utf8') ?? null,
    value: r.value?.toString('utf8') ?? null,
  });
}
