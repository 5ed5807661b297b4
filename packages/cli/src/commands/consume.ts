// `tributary consume TOPIC`: prints record values, one per line, until stopped.

import { Consumer, type ConsumerRecord, type OffsetSpec } from '@tributary/client';
import { UsageError, optionalIntArg, type Command } from '../command.ts';

export const consume: Command = {
  path: ['consume'],
  summary: 'print records of a topic as they arrive (runs until Ctrl-C unless limited)',
  usage: 'consume TOPIC [--from-beginning | --offset N] [--partition N] [--max-messages N] [--timeout-ms N] [--rack R]',
  positionals: ['TOPIC'],
  options: {
    'from-beginning': { type: 'boolean' },
    offset: { type: 'string', short: 'o' },
    partition: { type: 'string', short: 'p' },
    'max-messages': { type: 'string', short: 'n' },
    'timeout-ms': { type: 'string', short: 't' },
    rack: { type: 'string' },
  },
  flagHelp: [
    '--from-beginning     start at the earliest offset (default: only new records)',
    '-o, --offset N       start at offset N',
    '-p, --partition N    read only partition N (default: all)',
    '-n, --max-messages N stop after N records',
    '-t, --timeout-ms N   stop after N ms without a new record (default: run until Ctrl-C)',
    "--rack R             the consumer's rack: read from a replica in that rack when the leader says so (KIP-392)",
    '--json               print {"topic","partition","offset","key","value"} per record',
  ],
  details: ['example: tributary consume demo --from-beginning --max-messages 10'],
  async run(ctx) {
    const [topic] = ctx.positionals as [string];
    const command = ctx.command;
    const offset = optionalIntArg(ctx.values.offset, '--offset', command, 0);
    if (offset !== undefined && ctx.values['from-beginning']) throw new UsageError('use --from-beginning or --offset, not both', command);
    const partition = optionalIntArg(ctx.values.partition, '--partition', command, 0);
    const maxMessages = optionalIntArg(ctx.values['max-messages'], '--max-messages', command, 1);
    const timeoutMs = optionalIntArg(ctx.values['timeout-ms'], '--timeout-ms', command, 1);
    const from: OffsetSpec = offset ?? (ctx.values['from-beginning'] ? 'earliest' : 'latest');

    // The topic's partitions, and a clear error when it does not exist.
    const description = await ctx.admin().describeTopic(topic);
    const partitions = partition === undefined ? description.partitions.map((p) => p.partition) : [partition];
    if (partition !== undefined && partition >= description.partitions.length) {
      throw new UsageError(`topic '${topic}' has no partition ${partition} (it has ${description.partitions.length})`, command);
    }
    const rack = ctx.values.rack as string | undefined;
    const consumer = new Consumer({
      ...ctx.clientOptions,
      ...(rack !== undefined ? { rack } : {}),
      maxWaitMs: timeoutMs !== undefined ? Math.min(500, timeoutMs) : 500,
    });
    ctx.onClose(() => consumer.close());
    consumer.assign(partitions.map((p) => ({ topic, partition: p, offset: from })));
    const onAbort = (): void => void consumer.close();
    ctx.io.signal?.addEventListener('abort', onAbort, { once: true });

    let count = 0;
    let lastRecordMs = Date.now();
    try {
      while (!ctx.io.signal?.aborted) {
        const records = await consumer.poll();
        if (records.length > 0) lastRecordMs = Date.now();
        for (const record of records) {
          ctx.io.out(ctx.json ? formatJson(record) : (record.value?.toString('utf8') ?? 'null'));
          if (maxMessages !== undefined && ++count >= maxMessages) return done(ctx, count);
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
