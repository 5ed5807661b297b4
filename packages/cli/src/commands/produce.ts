// `tributary produce TOPIC`: one record per stdin line.

import { Producer, type ProducerOptions, type RecordMetadata } from '@tributary/client';
import { UsageError, optionalIntArg, type Command } from '../command.ts';

/** Results printed in input order; at most this many sends are awaited at once. */
const PENDING_MAX = 10_000;

export const produce: Command = {
  path: ['produce'],
  summary: 'send one record per line of standard input',
  usage: 'produce TOPIC [--acks all|1|0] [--key K | --key-separator SEP] [--partition N] [--compression none|gzip|snappy|lz4|zstd]',
  positionals: ['TOPIC'],
  options: {
    acks: { type: 'string', short: 'a' },
    key: { type: 'string', short: 'k' },
    'key-separator': { type: 'string' },
    partition: { type: 'string', short: 'p' },
    'linger-ms': { type: 'string' },
    'delivery-timeout-ms': { type: 'string' },
    compression: { type: 'string', short: 'z' },
  },
  flagHelp: [
    '-a, --acks all|1|0            all (default): committed by the ISR; 1: the leader; 0: not awaited',
    '-k, --key K                   the key of every record (keyed records go to murmur2(key) % partitions)',
    '--key-separator SEP           split each line at the first SEP into key and value',
    '-p, --partition N             send every record to partition N',
    '--linger-ms N                 wait up to N ms to fill batches (default 5)',
    '--delivery-timeout-ms N       give up on a record after N ms of retries (default 30000)',
    '-z, --compression CODEC       none (default), gzip, snappy, lz4 or zstd: batches are sent compressed',
    '--json                        print {"partition":…,"offset":…} per record',
  ],
  details: ['example: seq 1 100 | tributary produce demo --acks all'],
  async run(ctx) {
    const [topic] = ctx.positionals as [string];
    const command = ctx.command;
    const acksText = (ctx.values.acks as string | undefined) ?? 'all';
    const acks = ({ all: 'all', '-1': 'all', '1': 1, '0': 0 } as const)[acksText as 'all' | '-1' | '1' | '0'];
    if (acks === undefined) throw new UsageError(`--acks must be all, 1 or 0, got '${acksText}'`, command);
    const partition = optionalIntArg(ctx.values.partition, '--partition', command, 0);
    const key = ctx.values.key as string | undefined;
    const separator = ctx.values['key-separator'] as string | undefined;
    if (key !== undefined && separator !== undefined) throw new UsageError('use --key or --key-separator, not both', command);
    if (separator === '') throw new UsageError('--key-separator must not be empty', command);
    const compression = (ctx.values.compression as string | undefined) ?? 'none';
    if (!['none', 'gzip', 'snappy', 'lz4', 'zstd'].includes(compression))
      throw new UsageError(`--compression must be none, gzip, snappy, lz4 or zstd, got '${compression}'`, command);
    if (!ctx.io.lines) throw new UsageError('no standard input to read records from', command);
    const options: ProducerOptions = {
      ...ctx.clientOptions,
      acks,
      lingerMs: optionalIntArg(ctx.values['linger-ms'], '--linger-ms', command, 0) ?? 5,
      deliveryTimeoutMs: optionalIntArg(ctx.values['delivery-timeout-ms'], '--delivery-timeout-ms', command, 1) ?? 30_000,
      maxBlockMs: 10_000,
      compression: compression as ProducerOptions['compression'],
    };
    // Fail fast, with a clear line, when the cluster is unreachable or the topic does not exist.
    const description = await ctx.admin().describeTopic(topic);
    if (partition !== undefined && partition >= description.partitions.length) {
      throw new UsageError(`topic '${topic}' has no partition ${partition} (it has ${description.partitions.length})`, command);
    }
    const producer = new Producer(options);
    ctx.onClose(() => producer.close().catch(() => {}));

    let acknowledged = 0;
    let firstError: unknown;
    let failed = 0;
    const pending: Promise<RecordMetadata | Error>[] = [];
    const settle = async (): Promise<void> => {
      const result = await pending.shift()!;
      if (result instanceof Error) {
        failed++;
        firstError ??= result;
        return;
      }
      acknowledged++;
      if (ctx.json) ctx.io.out(JSON.stringify({ partition: result.partition, offset: result.offset }));
    };
    for await (const line of ctx.io.lines()) {
      if (firstError !== undefined) break;
      let recordKey = key;
      let value = line;
      if (separator !== undefined) {
        const at = line.indexOf(separator);
        if (at >= 0) {
          recordKey = line.slice(0, at);
          value = line.slice(at + separator.length);
        }
      }
      const record = { topic, value, ...(recordKey !== undefined ? { key: recordKey } : {}), ...(partition !== undefined ? { partition } : {}) };
      pending.push(producer.send(record).catch((err: Error) => err));
      if (pending.length >= PENDING_MAX) await settle();
    }
    await producer.flush();
    while (pending.length > 0) await settle();
    if (!ctx.json) {
      const what =
        acks === 0
          ? `sent ${acknowledged} record${acknowledged === 1 ? '' : 's'} (acks=0: not confirmed)`
          : `acknowledged ${acknowledged} record${acknowledged === 1 ? '' : 's'}`;
      (firstError ? ctx.io.err : ctx.io.out)(`${what}${failed > 0 ? `, ${failed} failed` : ''} (topic ${topic}, acks=${acksText})`);
    }
    if (firstError) throw firstError;
  },
};
