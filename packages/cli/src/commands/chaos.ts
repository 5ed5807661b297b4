// `tributary chaos`: a Jepsen-style run (seeded faults, a recorded history, a verdict) and
// `tributary chaos check FILE`, which re-checks a saved history without a cluster.

import { ChaosUsageError, type GroupAnomaly, check, describeAnomaly, parseFaults, readHistoryFile, renderReport, reportJson, runChaos } from '@tributary/chaos';
import { UsageError, optionalIntArg, type Command } from '../command.ts';
import { clientSecurity } from '../client-security.ts';

/** `120s`, `2m`, `90000ms` or a bare number of seconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000);
}

const chaosRun: Command = {
  path: ['chaos'],
  summary: 'Jepsen-style test: faults on a seeded schedule while producers and consumers run, then a verdict',
  usage:
    'chaos [--target local|docker] [--duration 120s] [--seed N] [--faults kill,pause,controller] [--producers 4] [--group-consumers N] [--settle-timeout 120s] [--secure] [--history FILE] [--json]',
  usesCluster: false,
  options: {
    target: { type: 'string' },
    duration: { type: 'string' },
    seed: { type: 'string' },
    faults: { type: 'string' },
    producers: { type: 'string' },
    'group-consumers': { type: 'string' },
    'delivery-timeout': { type: 'string' },
    'settle-timeout': { type: 'string' },
    history: { type: 'string' },
    'data-dir': { type: 'string' },
    'base-port': { type: 'string' },
    secure: { type: 'boolean' },
  },
  flagHelp: [
    '--target local|docker   local processes (default), or attach to the running compose cluster ($TRIBUTARY_CHAOS_PROJECT picks one)',
    '--duration D            how long the workload and the nemesis run: 120s, 2m, 90000ms (default 120s)',
    "--seed N                the schedule's seed: the same seed gives the same schedule (default: random, printed)",
    "--faults LIST           kill,pause,controller (local default); diskloss (delete a stopped broker's data; half the time then kill the",
    '                        other replicas of a partition it follows); compound (pause the leader, kill it, pause the next leader);',
    '                        partition,congest need docker; majority lets a fault take two replicas of a partition;',
    '                        garbage sends abusive requests to every process',
    '--producers N           idempotent acks=all producers (default 4)',
    '--group-consumers N     also N members of one consumer group (auto-commit every 1 s): every acknowledged record must reach the',
    '                        group, committed offsets never go back, the lag is 0 after the heal (default 0: no group)',
    '--delivery-timeout D    a send not acknowledged within D fails: indeterminate, or definite if never appended (default 10s)',
    '--settle-timeout D      how long the cluster has after the final heal to converge: full ISRs, HW = LEO, identical replicas (default 120s)',
    '--history FILE          write every operation as JSON lines, for `tributary chaos check FILE`',
    '--data-dir DIR          attach to the local cluster running from DIR (or start one there); default: a fresh one in a temp dir',
    '--base-port N           ports of a cluster this command starts (default: a free block)',
    '--secure                start that cluster in secure mode (local up --secure): the same faults and checks over TLS,',
    '                        certificates, SCRAM and ACLs; a cluster attached to is taken as it runs, with its own secrets',
  ],
  details: [
    'Creates topic chaos-<seed>-<time> (10 partitions, RF 3, min.insync.replicas=2). After --duration it heals everything,',
    'waits (--settle-timeout) until every partition has its full ISR, HW = LEO and replicas identical batch by batch,',
    'reads every partition from its start and checks: lost-write, duplicate, inconsistent-offsets, nonmonotonic, skip,',
    'precommitted-read, failed-write-visible, phantom, divergent-replicas, liveness (violations) and unseen (not one).',
    'With --group-consumers: undelivered, committed-offset-decreased and lag-not-zero (violations).',
    'Exit code 1 on any violation, with the first offending records printed.',
  ],
  async run(ctx) {
    const target = (ctx.values.target as string | undefined) ?? 'local';
    if (target !== 'local' && target !== 'docker') throw new UsageError(`--target must be local or docker, got '${target}'`, ctx.command);
    const durationText = (ctx.values.duration as string | undefined) ?? '120s';
    const durationMs = parseDuration(durationText);
    if (durationMs === undefined || durationMs < 10_000)
      throw new UsageError(`--duration must be at least 10s (like 120s or 2m), got '${durationText}'`, ctx.command);
    const seed = optionalIntArg(ctx.values.seed, '--seed', ctx.command, 0) ?? Math.floor(Math.random() * 1_000_000);
    let faults: ReturnType<typeof parseFaults>;
    try {
      faults = parseFaults(
        (ctx.values.faults as string | undefined) ?? (target === 'docker' ? 'kill,pause,partition,congest,controller' : 'kill,pause,controller'),
      );
    } catch (err) {
      throw new UsageError((err as Error).message, ctx.command);
    }
    const producers = optionalIntArg(ctx.values.producers, '--producers', ctx.command, 1) ?? 4;
    const groupConsumers = optionalIntArg(ctx.values['group-consumers'], '--group-consumers', ctx.command, 0) ?? 0;
    const deliveryText = (ctx.values['delivery-timeout'] as string | undefined) ?? '10s';
    const deliveryTimeoutMs = parseDuration(deliveryText);
    if (deliveryTimeoutMs === undefined || deliveryTimeoutMs < 1000)
      throw new UsageError(`--delivery-timeout must be at least 1s, got '${deliveryText}'`, ctx.command);
    const settleText = (ctx.values['settle-timeout'] as string | undefined) ?? '120s';
    const settleTimeoutMs = parseDuration(settleText);
    if (settleTimeoutMs === undefined || settleTimeoutMs < 1000) throw new UsageError(`--settle-timeout must be at least 1s, got '${settleText}'`, ctx.command);
    const basePort = optionalIntArg(ctx.values['base-port'], '--base-port', ctx.command, 1024);
    const history = ctx.values.history as string | undefined;
    const dataDir = ctx.values['data-dir'] as string | undefined;
    const secure = ctx.values.secure === true;
    if (secure && target === 'docker')
      throw new UsageError('--secure starts a local cluster; with --target docker the compose cluster is as it runs', ctx.command);
    // Credentials given as flags or variables are used as given; otherwise a secure local cluster's own.
    const env = ctx.io.env ?? process.env;
    const explicit =
      ['ca', 'user', 'password', 'password-file'].some((f) => typeof ctx.values[f] === 'string') ||
      ['TRIBUTARY_CA', 'TRIBUTARY_USER', 'TRIBUTARY_PASSWORD', 'TRIBUTARY_PASSWORD_FILE'].some((v) => (env[v] ?? '') !== '');
    let result: Awaited<ReturnType<typeof runChaos>>;
    try {
      result = await runChaos({
        target,
        durationMs,
        seed,
        faults,
        producers,
        groupConsumers,
        deliveryTimeoutMs,
        settleTimeoutMs,
        ...(history ? { historyPath: history } : {}),
        ...(dataDir ? { dataDir } : {}),
        ...(basePort !== undefined ? { basePort } : {}),
        ...(secure ? { secure } : {}),
        ...(explicit ? { client: clientSecurity(ctx.values, env) } : {}),
        ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
        log: ctx.json ? (line) => ctx.io.err(line) : (line) => ctx.io.out(line),
      });
    } catch (err) {
      if (err instanceof ChaosUsageError) throw new UsageError(err.message, ctx.command);
      throw err;
    }
    if (ctx.json) {
      ctx.io.out(
        JSON.stringify({
          ...reportJson(result.check, {
            topic: result.topic,
            seed: result.seed,
            durationMs: result.durationMs,
            faults: result.faults,
            schedule: result.schedule,
            settled: result.settled,
            ...(history ? { history } : {}),
          }),
          ...(result.group !== undefined ? { group: result.group } : {}),
        }),
      );
      if (result.check.violations > 0) for (const a of result.check.examples) ctx.io.err(describeAnomaly(a));
      for (const a of result.group?.examples ?? []) ctx.io.err(describeGroupAnomaly(a));
    } else {
      ctx.io.out('');
      for (const line of renderReport(result.check)) ctx.io.out(line);
      if (result.group !== undefined) {
        const g = result.group;
        ctx.io.out(
          `group: ${g.valid ? 'valid' : 'INVALID'}: ${g.acknowledged} acknowledged records, ${g.distinctDelivered} delivered to the group (${g.redelivered} more than once), ${g.observations} committed offsets observed; violations ${g.violations} (undelivered ${g.counts.undelivered}, committed-offset-decreased ${g.counts['committed-offset-decreased']}, lag-not-zero ${g.counts['lag-not-zero']})`,
        );
        for (const a of g.examples) ctx.io.out(`  ${describeGroupAnomaly(a)}`);
      }
      if (result.keptDataDir && result.dataDir) ctx.io.out(`cluster data and logs kept in ${result.dataDir}`);
      if (history) ctx.io.out(`history in ${history}; re-check with: tributary chaos check ${history}`);
      ctx.io.out(`replay the schedule with --seed ${result.seed}`);
    }
    return result.check.valid && (result.group?.valid ?? true) ? 0 : 1;
  },
};

function describeGroupAnomaly(a: GroupAnomaly): string {
  return `[${a.kind}] partition ${a.partition}: ${a.detail}`;
}

const chaosCheck: Command = {
  path: ['chaos', 'check'],
  summary: 're-check a saved chaos history (JSON lines from --history) without a cluster',
  usage: 'chaos check FILE [--json]',
  usesCluster: false,
  positionals: ['FILE'],
  async run(ctx) {
    const [file] = ctx.positionals as [string];
    const history = readHistoryFile(file);
    const result = check(history);
    if (ctx.json) {
      const h = history.header;
      ctx.io.out(
        JSON.stringify(reportJson(result, h ? { topic: h.topic, seed: h.seed, durationMs: h.durationMs, faults: h.faults, history: file } : { history: file })),
      );
    } else {
      if (history.header) ctx.io.out(`topic ${history.header.topic}, seed ${history.header.seed}, faults ${history.header.faults.join(',')}`);
      for (const line of renderReport(result)) ctx.io.out(line);
    }
    return result.valid ? 0 : 1;
  },
};

export const chaosCommands: readonly Command[] = [chaosRun, chaosCheck];
