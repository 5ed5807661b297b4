// Runs the phases in order against the cluster, collects one report, prints it.

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Admin, type ClientOptions, Producer } from '@tributary/client';
import type { ClusterStateFile } from '@tributary/launcher';
import { abusePhase, type AbusePhaseResult } from './abuse.ts';
import type { BenchArgs, Phase } from './args.ts';
import { attachCluster, brokerDataDir, brokerRss, clusterCpuMeter, startCluster, type BenchCluster } from './cluster.ts';
import { failoverRound, type FailoverRound } from './failover.ts';
import { kafkaPhase, type KafkaPathResult } from './kafka.ts';
import { inChildProcess, type AckLatencyResult, type E2eLatencyResult } from './latency.ts';
import { natsPeerInChildProcess, type NatsPeerResult } from './peer.ts';
import { Progress } from './progress.ts';
import { reassignPhase, type ReassignPhaseResult } from './reassign.ts';
import { rebalancePhase, type RebalancePhaseResult } from './rebalance.ts';
import { brokerRestartPhase, leaderChangeStallPhase } from './recovery.ts';
import { REJOIN_WAIT_MS, brokerDeathPhase, controllerRestartPhase } from './scale.ts';
import { median, round } from './stats.ts';
import { consumeAll, createBenchTopic, produceThroughput, sleep, topicHealthy, waitFor, type ConsumeResult, type ThroughputResult } from './workload.ts';

const RESULTS_DIR = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
const THROUGHPUT_PARTITIONS = 10;
const SCALING_PARTITIONS = [10, 100, 1000, 10_000] as const;

export interface ScalingPoint {
  partitions: number;
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  /** Sum and maximum of the brokers' RSS after the run, MB (10^6); null without launcher state. */
  brokerRssMBTotal: number | null;
  brokerRssMBMax: number | null;
  /** Seconds from the create request until every replica of the new topic fetched (not timed in recordsPerSec). */
  topicReadySeconds: number;
  /** records/s of each measured run, in order; recordsPerSec and mbPerSec are the median run's. */
  runsRecordsPerSec: number[];
  /** records/s of the unmeasured warm-up run before them. */
  warmupRecordsPerSec: number;
  /**
   * Cluster CPU (controller and brokers, user + system) per record of the median run, µs; null
   * without launcher state. Steadier than records/s on a shared VM, which drifts run to run.
   */
  clusterCpuUsPerRecord: number | null;
  /** The same for each measured run, in order. */
  runsClusterCpuUsPerRecord: (number | null)[];
}

/** One produce run of a scaling point, with the cluster CPU it used per record (µs; null without launcher state). */
type ScalingRun = ThroughputResult & { clusterCpuUsPerRecord: number | null };

/** Produce runs per scaling point (into the same topic, one after the other). */
const SCALING_RUNS = 3;

/**
 * Deletes the topic and waits (at most 120 s) until no broker's data dir holds a log of it:
 * brokers remove a deleted topic's logs over many event-loop turns after the metadata change.
 * Without the launcher's state (--bootstrap without --data-dir) it cannot look and only deletes.
 */
async function deleteAndWaitForLogs(admin: Admin, topic: string, state: ClusterStateFile | undefined): Promise<void> {
  await admin.deleteTopic(topic).catch(() => undefined);
  if (state === undefined) return;
  const dirs = state.processes.flatMap((p) => (p.brokerId === undefined ? [] : (brokerDataDir(p) ?? [])));
  const held = () => dirs.some((dir) => readdirSafe(dir).some((name) => name.startsWith(`${topic}-`) && !name.endsWith('-stray')));
  if (!(await waitFor(async () => !held(), 120_000, 200))) throw new Error(`the brokers still hold logs of ${topic} 120 s after its deletion`);
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The run with the median records/s (an odd count of runs). */
function medianRun<T extends ThroughputResult>(runs: readonly T[]): T {
  const sorted = [...runs].sort((a, b) => a.recordsPerSec - b.recordsPerSec);
  return sorted[(sorted.length - 1) >> 1]!;
}

export interface BenchReport {
  date: string;
  quick: boolean;
  hardware: { nproc: number; memoryGiB: number; cpu: string; node: string };
  cluster: string;
  records: number;
  produceRecordsPerSec?: number;
  produceMBps?: number;
  produceClientCpuUsPerRecord?: number;
  /**
   * CPU of the cluster's processes (controller + brokers, user + system, from /proc) over a
   * phase, per record: what a write costs the brokers. Absent without launcher state.
   */
  produceClusterCpuUsPerRecord?: number;
  consumeClusterCpuUsPerRecord?: number;
  consumeClientCpuUsPerRecord?: number;
  ackClusterCpuUsPerRecord?: number;
  e2eClusterCpuUsPerRecord?: number;
  produceAcks1RecordsPerSec?: number;
  produceAcks1MBps?: number;
  produceAcks0RecordsPerSec?: number;
  produceAcks0MBps?: number;
  consumeRecordsPerSec?: number;
  consumeMBps?: number;
  ackP50Ms?: number;
  ackP99Ms?: number;
  ackMaxMs?: number;
  e2eP50Ms?: number;
  e2eP99Ms?: number;
  e2eP999Ms?: number;
  e2eMaxMs?: number;
  /** The latency phases against a three-node NATS JetStream cluster (R3 stream); absent without nats-server. */
  natsPeer?: NatsPeerResult;
  failoverMs?: number;
  failoverRoundsMs?: number[];
  catchupMBps?: number;
  restartToIsrMs?: number;
  scaling?: Record<string, ScalingPoint>;
  /** 1000-partition throughput over 10-partition throughput. */
  scaling1000Ratio?: number;
  /** 10,000-partition throughput over 10-partition throughput. */
  scaling10000Ratio?: number;
  /** kill -9 of the broker leading a sixth of a big topic → every partition led again (controller's view). */
  brokerDeathLeadersMovedMs?: number;
  /** That broker restarted → back in the ISR of every partition it holds. */
  brokerDeathRejoinIsrMs?: number;
  /** The controller restarted over a metadata log of controllerReplayRecords records → serving (/health 200). */
  controllerReplayMs?: number;
  controllerReplayRecords?: number;
  /** A broker holding restartLogGB GB of log killed with kill -9 and restarted: spawn → /health 200 and a read of each of its partitions (target ≤ 5000 ms at 10 GB). */
  restartToServingMs?: number;
  restartLogGB?: number;
  /** The leader of a partition of stallLogGB GB (idempotent writes) killed under an idempotent producer: the largest event-loop delay of any live broker over the change (target ≤ 50 ms at 2 GB). */
  leaderChangeMaxStallMs?: number;
  stallLogGB?: number;
  /** acks=all p99, one record in flight, on a quiet cluster and while every route of every process is abused. */
  abuseQuietAckP99Ms?: number;
  abuseAckP99Ms?: number;
  abuseRequestsPerSec?: number;
  /** Abusive requests not answered with a clear 4xx or cut off by the server (judgeAbuse): 0 expected. */
  abuseBadlyHandled?: number;
  /** Moving one replica of a partition of reassignMB MB at reassignThrottleMBps: seconds, and the producer on the other partitions during / before. */
  reassignMB?: number;
  reassignThrottleMBps?: number;
  reassignSeconds?: number;
  reassignExpectedSeconds?: number;
  reassignProduceBaselineRecordsPerSec?: number;
  reassignProduceDuringRecordsPerSec?: number;
  reassignProduceRatio?: number;
  /** Through the Kafka listeners with kcat (librdkafka) next to the bundled client over HTTP, same run (issue 19). */
  kafkaKcatProduceRecordsPerSec?: number;
  kafkaBundledProduceRecordsPerSec?: number;
  kafkaKcatConsumeRecordsPerSec?: number;
  kafkaBundledConsumeRecordsPerSec?: number;
  kafkaKcatProduceLz4MBps?: number;
  kafkaBundledProduceLz4MBps?: number;
  /** Ten members joining a 100-partition topic, then one killed (rebalance phase). */
  rebalanceJoinMs?: number;
  rebalanceReassignedMs?: number;
  rebalanceConsumedAgainMs?: number;
  rebalanceSessionTimeoutMs?: number;
  /** Reading a filled 100-partition topic: a group of three member processes, and one consumer with assign(). */
  groupOfThreeConsumeRecordsPerSec?: number;
  assignConsumeRecordsPerSec?: number;
  /**
   * --secure: the produce (acks=all, idempotent) and consume phases again on a secure cluster
   * (TLS everywhere, mutual TLS between the processes, SCRAM, ACLs; the client as admin), and
   * each over its plaintext figure of the same run.
   */
  secureProduceRecordsPerSec?: number;
  secureProduceMBps?: number;
  secureProduceClientCpuUsPerRecord?: number;
  secureProduceClusterCpuUsPerRecord?: number;
  secureProduceRatio?: number;
  /**
   * Records per CPU-second (client + cluster) in secure mode over plaintext: what security costs
   * in CPU, steadier than records/s on a shared machine, where another job moves the latter.
   */
  secureProduceCpuRatio?: number;
  secureConsumeRecordsPerSec?: number;
  secureConsumeMBps?: number;
  secureConsumeClientCpuUsPerRecord?: number;
  secureConsumeClusterCpuUsPerRecord?: number;
  secureConsumeRatio?: number;
  secureConsumeCpuRatio?: number;
  details: Record<string, unknown>;
}

interface Row {
  phase: string;
  result: string;
  detail: string;
}

export async function runBench(args: BenchArgs): Promise<BenchReport> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const hardware = {
    nproc: availableParallelism(),
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
  };
  const hardwareLine = `hardware: nproc ${hardware.nproc}, memory ${hardware.memoryGiB} GiB, ${hardware.cpu}, node ${hardware.node}; client and every broker on this machine`;
  log(hardwareLine);

  const cluster: BenchCluster = args.bootstrap !== undefined ? attachCluster(args.bootstrap, args.dataDir) : await startCluster({ keep: args.keep, log });
  const onSignal = () => {
    log('interrupted: stopping the cluster');
    void cluster.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const report: BenchReport = {
    date: new Date().toISOString(),
    quick: args.quick,
    hardware,
    cluster: cluster.started
      ? `local: 6 brokers, 2 racks, started by the bench${args.secure ? '; then a secure one (local up --secure) for produce and consume' : ''}`
      : `--bootstrap ${cluster.bootstrap}`,
    records: args.records,
    details: {},
  };
  const rows: Row[] = [];
  const admin = new Admin({ bootstrap: cluster.bootstrap });
  const runId = Date.now().toString(36);
  const topicName = (what: string) => `bench-${runId}-${what}`;
  const wants = (p: Phase) => args.only.includes(p);
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  /** Starts a cluster-CPU measurement; the result is µs per record, or undefined. */
  const meterCluster = () => {
    const cpuSince = clusterCpuMeter(cluster.state());
    return (records: number): number | undefined => {
      const cpu = cpuSince();
      return cpu === undefined || records <= 0 ? undefined : round((cpu * 1e6) / records, 2);
    };
  };
  const cpuNote = (us: number | undefined) => (us === undefined ? '' : `; cluster ${us} µs CPU/record`);

  try {
    // ---- produce, acks=all, idempotent (and the data the consume phase reads)
    const mainTopic = topicName('acks-all');
    let mainRecords = 0;
    if (wants('produce') || wants('consume')) {
      await createBenchTopic(admin, mainTopic, THROUGHPUT_PARTITIONS);
      const label = wants('produce') ? 'produce acks=all' : 'produce (consume data)';
      const clusterCpu = meterCluster();
      const r = await produceThroughput(cluster.bootstrap, mainTopic, args.records, { acks: 'all', idempotent: true }, new Progress(label, args.records));
      mainRecords = args.records + 1; // + the warm-up record
      if (wants('produce')) {
        report.produceRecordsPerSec = Math.round(r.recordsPerSec);
        report.produceMBps = round(r.mbPerSec);
        report.produceClientCpuUsPerRecord = round(r.clientCpuUsPerRecord);
        report.produceClusterCpuUsPerRecord = clusterCpu(r.records);
        report.details.produce = r;
        rows.push(throughputRow('produce acks=all idem.', r, report.produceClusterCpuUsPerRecord));
      }
    }
    const acksPhase = async (phase: Phase, acks: 1 | 0) => {
      const topic = topicName(`acks-${acks}`);
      await createBenchTopic(admin, topic, THROUGHPUT_PARTITIONS);
      const clusterCpu = meterCluster();
      const r = await produceThroughput(
        cluster.bootstrap,
        topic,
        args.records,
        { acks, idempotent: false },
        new Progress(`produce acks=${acks}`, args.records),
      );
      const cpuUs = clusterCpu(r.records);
      await admin.deleteTopic(topic).catch(() => undefined);
      report.details[phase] = { ...r, clusterCpuUsPerRecord: cpuUs };
      rows.push(throughputRow(`produce acks=${acks}`, r, cpuUs));
      return r;
    };
    if (wants('produce-acks1')) {
      const r = await acksPhase('produce-acks1', 1);
      report.produceAcks1RecordsPerSec = Math.round(r.recordsPerSec);
      report.produceAcks1MBps = round(r.mbPerSec);
    }
    if (wants('produce-acks0')) {
      const r = await acksPhase('produce-acks0', 0);
      report.produceAcks0RecordsPerSec = Math.round(r.recordsPerSec);
      report.produceAcks0MBps = round(r.mbPerSec);
    }

    // ---- consume everything from the beginning
    if (wants('consume')) {
      const clusterCpu = meterCluster();
      const r: ConsumeResult = await consumeAll(cluster.bootstrap, mainTopic, mainRecords, new Progress('consume', mainRecords));
      report.consumeRecordsPerSec = Math.round(r.recordsPerSec);
      report.consumeMBps = round(r.mbPerSec);
      report.consumeClusterCpuUsPerRecord = clusterCpu(r.records);
      report.consumeClientCpuUsPerRecord = round(r.clientCpuUsPerRecord, 3);
      report.details.consume = r;
      rows.push({
        phase: 'consume from start',
        result: `${fmt(r.recordsPerSec)} rec/s`,
        detail: `${r.mbPerSec.toFixed(1)} MB/s values, ${fmt(r.records)} records in ${r.seconds.toFixed(2)} s; client ${r.clientCpuUsPerRecord.toFixed(2)} µs CPU/record${cpuNote(report.consumeClusterCpuUsPerRecord)}`,
      });
    }
    if (mainRecords > 0) await admin.deleteTopic(mainTopic).catch(() => undefined);

    // ---- latency
    if (wants('latency')) {
      const topic = topicName('latency');
      await createBenchTopic(admin, topic, THROUGHPUT_PARTITIONS);
      const ackCount = 5000;
      const ackCpu = meterCluster();
      const a: AckLatencyResult = await inChildProcess(
        { kind: 'ack', bootstrap: cluster.bootstrap, topic, count: ackCount },
        new Progress('latency acks=all', ackCount),
      );
      report.ackP50Ms = a.p50Ms;
      report.ackP99Ms = a.p99Ms;
      report.ackMaxMs = a.maxMs;
      report.ackClusterCpuUsPerRecord = ackCpu(a.records);
      report.details.ackLatency = a;
      rows.push({
        phase: 'ack latency (1 in flight)',
        result: `p99 ${a.p99Ms} ms`,
        detail: `p50 ${a.p50Ms} / p99 ${a.p99Ms} / max ${a.maxMs} ms over ${fmt(a.records)} records, acks=all (targets: p99 <= 5 ms; issue 21: p50 <= 0.5, p99 <= 2 ms)${cpuNote(report.ackClusterCpuUsPerRecord)}`,
      });
      const rate = 10_000;
      const seconds = args.quick ? 5 : 20;
      const e2eCpu = meterCluster();
      const e: E2eLatencyResult = await inChildProcess(
        { kind: 'e2e', bootstrap: cluster.bootstrap, topic, ratePerSec: rate, seconds },
        new Progress('latency end-to-end', rate * seconds),
      );
      report.e2eP50Ms = e.p50Ms;
      report.e2eP99Ms = e.p99Ms;
      report.e2eP999Ms = e.p999Ms;
      report.e2eMaxMs = e.maxMs;
      report.e2eClusterCpuUsPerRecord = e2eCpu(e.sent);
      report.details.e2eLatency = e;
      rows.push({
        phase: 'end-to-end latency',
        result: `p99 ${e.p99Ms} ms`,
        detail: `p50 ${e.p50Ms} / p99 ${e.p99Ms} / p99.9 ${e.p999Ms} / max ${e.maxMs} ms at ${fmt(rate)} rec/s for ${seconds} s (targets: p99 <= 10 ms; issue 21: <= 5 ms) (${fmt(e.received)}/${fmt(e.sent)} received; send → ack p50 ${e.ackedP50Ms} / p99 ${e.ackedP99Ms} / p99.9 ${e.ackedP999Ms} ms)${cpuNote(report.e2eClusterCpuUsPerRecord)}`,
      });
      await admin.deleteTopic(topic).catch(() => undefined);
    }

    // ---- the peer's latency, measured as the latency phase measures ours (packages/bench/src/nats-peer.ts)
    if (wants('latency-peer')) {
      const progress = new Progress('latency peer (NATS)', 1);
      const peer = await natsPeerInChildProcess(args.quick);
      progress.update(1);
      if (peer === undefined) {
        rows.push({
          phase: 'nats: latency (peer)',
          result: 'not run',
          detail: 'nats-server is not installed (Debian: apt-get install nats-server; or NATS_SERVER=PATH)',
        });
      } else {
        report.natsPeer = peer;
        const { ack, e2e } = peer;
        rows.push({
          phase: 'nats: ack latency (1 in flight)',
          result: `p99 ${ack.p99Ms} ms`,
          detail: `p50 ${ack.p50Ms} / p99 ${ack.p99Ms} / max ${ack.maxMs} ms over ${fmt(ack.records)} messages: the peer, ${peer.natsServer}, ${peer.nodes} nodes, publish → ack on an R${peer.nodes} stream`,
        });
        rows.push({
          phase: 'nats: end-to-end latency',
          result: `p99 ${e2e.p99Ms} ms`,
          detail: `p50 ${e2e.p50Ms} / p99 ${e2e.p99Ms} / p99.9 ${e2e.p999Ms} / max ${e2e.maxMs} ms at ${fmt(e2e.ratePerSec)} msg/s for ${e2e.seconds} s (${fmt(e2e.received)}/${fmt(e2e.sent)} received; publish → ack p50 ${e2e.ackedP50Ms} / p99 ${e2e.ackedP99Ms} ms)`,
        });
      }
    }

    // ---- failover
    if (wants('failover')) {
      if (cluster.dataDir === undefined || cluster.state() === undefined) {
        rows.push({ phase: 'failover', result: 'not run', detail: 'needs the launcher state of the cluster: run without --bootstrap, or add --data-dir' });
      } else {
        const topic = topicName('failover');
        await createBenchTopic(admin, topic, THROUGHPUT_PARTITIONS);
        const rounds = args.quick ? 1 : 3;
        const progress = new Progress('failover', rounds);
        const results: FailoverRound[] = [];
        for (let i = 0; i < rounds; i++) {
          await waitFor(() => topicHealthy(admin, topic, true), 30_000, 200);
          results.push(await failoverRound(cluster, admin, topic, i, { loadRatePerSec: args.quick ? 20_000 : 50_000, downMs: 13_000 }, progress, i));
          progress.update(i + 1, `round ${i + 1}: ${Math.round(results[i]!.failoverMs)} ms`);
        }
        progress.finish(results.map((r) => `${Math.round(r.failoverMs)} ms`).join(', '));
        report.failoverRoundsMs = results.map((r) => Math.round(r.failoverMs));
        report.failoverMs = Math.round(median(results.map((r) => r.failoverMs)));
        report.catchupMBps = round(median(results.map((r) => r.catchupMBps)));
        report.restartToIsrMs = Math.round(median(results.map((r) => r.restartToIsrMs)));
        report.details.failover = results;
        rows.push({
          phase: 'failover (kill -9 leader)',
          result: `${fmt(report.failoverMs)} ms`,
          detail: `median of ${report.failoverRoundsMs.join(', ')} ms (kill → first acks=all success on the partition)`,
        });
        rows.push({
          phase: 'restart catch-up',
          result: `${report.catchupMBps} MB/s`,
          detail: `${results
            .map(
              (r) =>
                `${(r.catchupBytes / 1e6).toFixed(1)} MB in ${(r.catchupMs / 1000).toFixed(2)} s (restart → every ISR ${(r.restartToIsrMs / 1000).toFixed(2)} s)`,
            )
            .join('; ')}; MB/s from healthy to back in every ISR`,
        });
        await admin.deleteTopic(topic).catch(() => undefined);
      }
    }

    // ---- scaling with the partition count
    if (wants('scaling')) {
      const records = args.quick ? 100_000 : 500_000;
      report.scaling = {};
      // Each point's topic is created before the previous point's is deleted, and produced to
      // once the brokers have removed those logs: on ext4 without a journal (this VM's disk)
      // every inode creation walks past the inodes freed in the last minute or more
      // (`recently_deleted`), so a 10,000-partition topic created just after the 1000-partition
      // one was deleted measured those deletions, not its own creation (packages/bench/README.md).
      let previous: string | undefined;
      for (const partitions of SCALING_PARTITIONS) {
        const topic = topicName(`scale-${partitions}`);
        const readySeconds = await createBenchTopic(admin, topic, partitions);
        if (previous !== undefined) await deleteAndWaitForLogs(admin, previous, cluster.state());
        previous = topic;
        // An unmeasured warm-up run, then the median of SCALING_RUNS: one run of 100,000 records
        // lasts under half a second, and on this shared 2-core box a single run of the same
        // code swung the 10,000 / 10 ratio between 0.54 and 1.02. The first run into a topic
        // pays one-time costs (the brokers' JIT on a fresh cluster, each partition's first
        // epoch): the 10-partition point, first on a fresh cluster, ran 230k-380k records/s in
        // its first run, against 510k-760k on a warm cluster, which flattered every ratio over it.
        const produceRun = async (label: string): Promise<ScalingRun> => {
          const clusterCpu = meterCluster();
          const result = await produceThroughput(
            cluster.bootstrap,
            topic,
            records,
            { acks: 'all', idempotent: true },
            new Progress(`scaling ${partitions} parts, ${label}`, records),
          );
          return { ...result, clusterCpuUsPerRecord: clusterCpu(records) ?? null };
        };
        const warmup = await produceRun('warm-up run');
        const runs: ScalingRun[] = [];
        for (let run = 1; run <= SCALING_RUNS; run++) runs.push(await produceRun(`run ${run} of ${SCALING_RUNS}`));
        const r = medianRun(runs);
        const state = cluster.state();
        const rss = state ? [...brokerRss(state).values()] : [];
        const point: ScalingPoint = {
          partitions,
          records,
          recordsPerSec: Math.round(r.recordsPerSec),
          mbPerSec: round(r.mbPerSec),
          brokerRssMBTotal: rss.length > 0 ? Math.round(rss.reduce((a, b) => a + b, 0) / 1e6) : null,
          brokerRssMBMax: rss.length > 0 ? Math.round(Math.max(...rss) / 1e6) : null,
          topicReadySeconds: round(readySeconds),
          runsRecordsPerSec: runs.map((x) => Math.round(x.recordsPerSec)),
          warmupRecordsPerSec: Math.round(warmup.recordsPerSec),
          clusterCpuUsPerRecord: r.clusterCpuUsPerRecord,
          runsClusterCpuUsPerRecord: runs.map((x) => x.clusterCpuUsPerRecord),
        };
        report.scaling[String(partitions)] = point;
        rows.push({
          phase: `scaling ${partitions} partitions`,
          result: `${fmt(r.recordsPerSec)} rec/s`,
          detail: `acks=all, median of ${point.runsRecordsPerSec.map(fmt).join(', ')} rec/s (${SCALING_RUNS} runs of ${fmt(records)} records after a warm-up run at ${fmt(point.warmupRecordsPerSec)})${cpuNote(point.clusterCpuUsPerRecord ?? undefined)}; broker RSS ${point.brokerRssMBTotal ?? '?'} MB total, ${point.brokerRssMBMax ?? '?'} MB max; topic replicating ${point.topicReadySeconds} s after create`,
        });
      }
      if (previous !== undefined) await admin.deleteTopic(previous).catch(() => undefined);
      const s10 = report.scaling['10']!.recordsPerSec;
      report.scaling1000Ratio = round(report.scaling['1000']!.recordsPerSec / s10, 3);
      report.scaling10000Ratio = round(report.scaling['10000']!.recordsPerSec / s10, 3);
      const ten = report.scaling['10000']!;
      rows.push({
        phase: 'scaling targets',
        result: `${(report.scaling10000Ratio * 100).toFixed(0)} %`,
        detail: `10,000 over 10 partitions (target >= 70 %); 1000 over 10: ${(report.scaling1000Ratio * 100).toFixed(0)} % (target >= 90 %); 10,000 partitions replicating ${ten.topicReadySeconds} s after create (target <= 30 s), broker RSS ${ten.brokerRssMBTotal ?? '?'} MB total`,
      });
    }

    // ---- produce p99 with and without abusive clients
    if (wants('abuse')) {
      const topic = topicName('abuse');
      await createBenchTopic(admin, topic, THROUGHPUT_PARTITIONS);
      const r: AbusePhaseResult = await abusePhase(cluster.bootstrap, admin, topic, args.quick ? 1000 : 3000);
      const state = cluster.state();
      const rss = state ? [...brokerRss(state).values()] : [];
      report.abuseQuietAckP99Ms = r.quiet.p99Ms;
      report.abuseAckP99Ms = r.abused.p99Ms;
      report.abuseRequestsPerSec = r.abuseRequestsPerSec;
      report.abuseBadlyHandled = r.badlyHandled;
      report.details.abuse = { ...r, brokerRssMBMaxAfter: rss.length > 0 ? Math.round(Math.max(...rss) / 1e6) : null };
      rows.push({
        phase: 'produce p99 under abuse',
        result: `p99 ${r.abused.p99Ms} ms`,
        detail: `acks=all, 1 in flight, ${fmt(r.records)} records: quiet p50 ${r.quiet.p50Ms} / p99 ${r.quiet.p99Ms} / max ${r.quiet.maxMs} ms; abused p50 ${r.abused.p50Ms} / p99 ${r.abused.p99Ms} / max ${r.abused.maxMs} ms, while ${fmt(r.abuseRequests)} abusive requests (${fmt(r.abuseRequestsPerSec)}/s) hit every route of every process, ${r.badlyHandled} badly handled${rss.length > 0 ? `; broker RSS max ${Math.round(Math.max(...rss) / 1e6)} MB after` : ''}`,
      });
      if (r.badlyHandled > 0) rows.push({ phase: 'abuse: badly handled', result: String(r.badlyHandled), detail: r.badlyHandledExamples.join('; ') });
      await admin.deleteTopic(topic).catch(() => undefined);
    }

    // ---- moving one replica of a big partition under a throttle, a producer on the others
    if (wants('reassign')) {
      const topic = topicName('reassign');
      const r: ReassignPhaseResult = await reassignPhase(cluster.bootstrap, admin, topic, args.reassignMB, args.reassignThrottleMBps, () => cluster.state());
      report.reassignMB = args.reassignMB;
      report.reassignThrottleMBps = args.reassignThrottleMBps;
      report.reassignSeconds = round(r.moveSeconds, 1);
      report.reassignExpectedSeconds = round(r.expectedSeconds, 1);
      report.reassignProduceBaselineRecordsPerSec = Math.round(r.baselineRecordsPerSec);
      report.reassignProduceDuringRecordsPerSec = Math.round(r.duringRecordsPerSec);
      report.reassignProduceRatio = round(r.throughputRatio, 3);
      report.details.reassign = r;
      rows.push({
        phase: `reassign ${args.reassignMB} MB replica`,
        result: `${r.moveSeconds.toFixed(1)} s`,
        detail: `B${r.movedFrom} -> B${r.movedTo} at a ${args.reassignThrottleMBps} MB/s throttle (expected ${r.expectedSeconds.toFixed(1)} s): ${r.copyMBps.toFixed(1)} MB/s; fill ${r.fillSeconds.toFixed(1)} s, not timed`,
      });
      rows.push({
        phase: 'produce during the move',
        result: `${(r.throughputRatio * 100).toFixed(1)} %`,
        detail: `acks=all on the 9 other partitions: ${fmt(r.duringRecordsPerSec)} rec/s during the move vs ${fmt(r.baselineRecordsPerSec)} rec/s in the ${r.baselineSeconds.toFixed(1)} s before${r.failedRecords > 0 ? `, ${r.failedRecords} FAILED` : ''}${
          r.cores
            ? `; cores used before / during: cluster ${r.cores.baseline.cluster} / ${r.cores.during.cluster}, leader B${r.leader} ${r.cores.baseline.leader} / ${r.cores.during.leader}, B${r.movedTo} ${r.cores.baseline.newReplica} / ${r.cores.during.newReplica}, client ${r.cores.baseline.client} / ${r.cores.during.client}`
            : ''
        }`,
      });
      await admin.deleteTopic(topic).catch(() => undefined);
    }

    // ---- consumer groups: ten members join, one is killed; a group of three against assign()
    if (wants('rebalance')) {
      const progress = new Progress('rebalance', 6);
      const r: RebalancePhaseResult = await rebalancePhase(cluster.bootstrap, admin, topicName, { quick: args.quick, progress });
      progress.finish(`reassigned ${r.reassignedMs} ms after the kill`);
      report.rebalanceJoinMs = r.joinMs;
      report.rebalanceReassignedMs = r.reassignedMs;
      report.rebalanceConsumedAgainMs = r.consumedAgainMs;
      report.rebalanceSessionTimeoutMs = r.sessionTimeoutMs;
      report.groupOfThreeConsumeRecordsPerSec = r.groupOfThreeRecordsPerSec;
      report.assignConsumeRecordsPerSec = r.assignRecordsPerSec;
      report.details.rebalance = r;
      rows.push({
        phase: 'group join (10 members)',
        result: `${fmt(r.joinMs)} ms`,
        detail: `start of ten member processes → every one of ${r.partitions} partitions assigned once and read (incl. the brokers' 3 s initial rebalance delay)`,
      });
      rows.push({
        phase: 'rebalance after kill -9',
        result: `${fmt(r.consumedAgainMs)} ms`,
        detail: `a member owning ${r.killedPartitions} partitions killed: the nine others own every partition after ${fmt(r.reassignedMs)} ms, have read each of its partitions after ${fmt(r.consumedAgainMs)} ms (session timeout ${fmt(r.sessionTimeoutMs)} ms)`,
      });
      rows.push({
        phase: 'consume: group of 3 vs assign()',
        result: `${fmt(r.groupOfThreeRecordsPerSec)} rec/s`,
        detail: `${fmt(r.throughputRecords)} records over ${r.partitions} partitions: three member processes ${fmt(r.groupOfThreeRecordsPerSec)} rec/s (join ${fmt(r.groupOfThreeJoinMs)} ms, not timed) vs one assign() consumer ${fmt(r.assignRecordsPerSec)} rec/s`,
      });
    }

    // ---- the Kafka listeners: kcat (librdkafka) next to the bundled client, same cluster
    if (wants('kafka')) {
      const state = cluster.state();
      if (state === undefined) {
        rows.push({
          phase: 'kafka',
          result: 'not run',
          detail: 'needs the launcher state of the cluster (its Kafka ports): run without --bootstrap, or add --data-dir',
        });
      } else {
        const r = await kafkaPhase({
          bootstrap: cluster.bootstrap,
          state,
          admin,
          records: args.records,
          topicName,
          meterCluster,
          progress: (label, total) => new Progress(label, total),
        });
        report.kafkaKcatProduceRecordsPerSec = r.kcatProduce.recordsPerSec;
        report.kafkaBundledProduceRecordsPerSec = r.bundledProduce.recordsPerSec;
        report.kafkaKcatConsumeRecordsPerSec = r.kcatConsume.recordsPerSec;
        report.kafkaBundledConsumeRecordsPerSec = r.bundledConsume.recordsPerSec;
        report.kafkaKcatProduceLz4MBps = r.kcatProduceLz4.mbPerSec;
        report.kafkaBundledProduceLz4MBps = r.bundledProduceLz4.mbPerSec;
        report.details.kafka = r;
        const row = (phase: string, p: KafkaPathResult) => ({
          phase,
          result: `${fmt(p.recordsPerSec)} rec/s`,
          detail: `${p.mbPerSec.toFixed(1)} MB/s values, ${fmt(p.records)} records in ${p.seconds.toFixed(2)} s${cpuNote(p.clusterCpuUsPerRecord)}`,
        });
        rows.push(
          row('kafka: kcat produce acks=all idem.', r.kcatProduce),
          row('kafka: bundled produce (HTTP)', r.bundledProduce),
          row('kafka: kcat consume', r.kcatConsume),
          row('kafka: bundled consume (HTTP)', r.bundledConsume),
          row('kafka: kcat produce -z lz4', r.kcatProduceLz4),
          row('kafka: bundled produce lz4 (HTTP)', r.bundledProduceLz4),
        );
      }
    }

    // ---- kill -9 of a broker leading a sixth of a big topic; then its restart
    if (wants('broker-death')) {
      const state = cluster.state();
      if (state === undefined) {
        rows.push({ phase: 'broker death', result: 'not run', detail: 'needs the launcher state (--data-dir with --bootstrap)' });
      } else {
        const topic = topicName('death');
        const r = await brokerDeathPhase(admin, topic, args.deathPartitions, state);
        report.brokerDeathLeadersMovedMs = Math.round(r.leadersMovedMs);
        if (r.rejoinIsrMs !== null) report.brokerDeathRejoinIsrMs = Math.round(r.rejoinIsrMs);
        report.details.brokerDeath = r;
        rows.push({
          phase: `broker death, ${fmt(r.partitions)} parts`,
          result: `${fmt(r.leadersMovedMs)} ms`,
          detail: `kill -9 of B${r.victim} (led ${fmt(r.led)}) -> every partition led again (target <= 5000 ms), to ${Object.entries(r.successors)
            .map(([b, n]) => `B${b} ${n}`)
            .join(
              ', ',
            )}; restarted -> back in all ${fmt(r.held)} of its ISRs in ${r.rejoinIsrMs === null ? `more than ${fmt(REJOIN_WAIT_MS)}` : fmt(r.rejoinIsrMs)} ms (target <= 60000 ms); ${fmt(r.metadataRecords)} metadata records; topic replicating ${r.topicReadySeconds.toFixed(1)} s after create`,
        });
        await admin.deleteTopic(topic).catch(() => undefined);
        await sleep(1000);
      }
    }

    // ---- the controller restarted over a long metadata history
    if (wants('controller-restart')) {
      const state = cluster.state();
      if (state === undefined) {
        rows.push({ phase: 'controller restart', result: 'not run', detail: 'needs the launcher state (--data-dir with --bootstrap)' });
      } else {
        const r = await controllerRestartPhase(state, args.metadataRecords, args.metadataSnapshots);
        report.controllerReplayMs = Math.round(r.restartToServingMs);
        report.controllerReplayRecords = r.metadataVersion;
        report.details.controllerRestart = r;
        rows.push({
          phase: 'controller restart',
          result: `${fmt(r.restartToServingMs)} ms`,
          detail: `spawn -> serving over ${fmt(r.metadataVersion)} metadata records (target <= 3000 ms at 1,000,000); snapshots ${r.snapshots ? 'on' : 'off'}: loaded ${r.snapshotVersion ?? '?'} and replayed ${r.replayedRecords === null ? '?' : fmt(r.replayedRecords)} records in ${r.replayMs ?? '?'} ms; fill ${r.fillSeconds.toFixed(1)} s, not timed`,
        });
      }
    }

    // ---- a broker holding a big log killed with kill -9 and restarted: how soon it serves
    if (wants('broker-restart')) {
      const state = cluster.state();
      if (state === undefined) {
        rows.push({ phase: 'broker restart', result: 'not run', detail: 'needs the launcher state (--data-dir with --bootstrap)' });
      } else {
        const r = await brokerRestartPhase(cluster.bootstrap, admin, state, topicName('restart'), args.restartLogGB);
        report.restartToServingMs = Math.round(r.restartToServingMs);
        report.restartLogGB = round(r.logBytes / 1e9, 2);
        report.details.brokerRestart = r;
        const l = r.log;
        const ms = (x: number | null) => (x === null ? '?' : fmt(x));
        const warnings = Object.entries(l.warnings).map(([msg, n]) => `${n}× '${msg}'`);
        rows.push({
          phase: `broker restart, ${(r.logBytes / 1e9).toFixed(1)} GB`,
          result: `${fmt(r.restartToServingMs)} ms`,
          detail: `kill -9 of B${r.broker} holding ${(r.logBytes / 1e9).toFixed(2)} GB in ${r.partitions} partitions, restarted once fenced: spawn -> serving (/health ok and a record of each partition read from it) (target <= 5000 ms at 10 GB); /health after ${fmt(r.restartToHealthMs)} ms; its log: first line at ${ms(l.firstLineMs)} ms (process start), loaded ${l.logsLoaded ?? '?'} logs at ${ms(l.loadedLogsMs)} ms, listening ${ms(l.listeningMs)}, registered ${ms(l.registeredMs)}, leader again ${ms(l.lastBecameLeaderMs)} ms; ${warnings.length > 0 ? warnings.join(', ') : 'no warnings'}; fill ${r.fillSeconds.toFixed(1)} s, not timed`,
        });
      }
    }

    // ---- leadership of a big idempotently written partition moved by a kill -9: event-loop stalls
    if (wants('leader-change-stall')) {
      const state = cluster.state();
      if (state === undefined) {
        rows.push({ phase: 'leader change stall', result: 'not run', detail: 'needs the launcher state (--data-dir with --bootstrap)' });
      } else {
        const r = await leaderChangeStallPhase(cluster.bootstrap, admin, state, topicName('stall'), args.stallLogGB);
        report.leaderChangeMaxStallMs = r.maxStallMs;
        report.stallLogGB = round(r.filledBytes / 1e9, 2);
        report.details.leaderChangeStall = r;
        const byBroker = Object.entries(r.maxStallMsByBroker)
          .map(([b, v]) => `B${b} ${v}`)
          .join(', ');
        const rebuilds = r.producerStateRebuilds
          .map(
            (x) =>
              `B${x.broker} rebuilt producer state reading ${(x.bytesRead / 1e6).toFixed(0)} MB from offset ${x.fromOffset} (${x.fromSnapshot === null ? 'no snapshot' : `snapshot ${x.fromSnapshot}`}) in ${x.ms} ms`,
          )
          .join(', ');
        rows.push({
          phase: `leader change, ${(r.filledBytes / 1e9).toFixed(1)} GB`,
          result: `${r.maxStallMs} ms`,
          detail: `largest event-loop delay of a live broker (B${r.maxStallBroker}) while kill -9 of leader B${r.oldLeader} moved the partition to B${r.newLeader} (target <= 50 ms at 2 GB; 10 ms sampling included); by broker ${byBroker} ms over ${fmt(r.windowMs)} ms; quiet baseline ${r.baselineMaxStallMs} ms; leader moved ${fmt(r.leaderMovedMs)} ms, idempotent producer acked again ${fmt(r.produceResumedMs)} ms after the kill (${fmt(r.loadAcked)} acked, ${r.loadFailed} failed); ${rebuilds === '' ? 'no producer-state rebuild logged' : rebuilds}; fill ${r.fillSeconds.toFixed(1)} s, not timed`,
        });
      }
    }
  } finally {
    await admin.close().catch(() => undefined);
    await cluster.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  if (args.secure) await secureThroughput(args, report, rows, log);

  if (!args.json) {
    process.stdout.write(`\n${table(rows)}\n`);
    process.stdout.write(`${hardwareLine}\n`);
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}${report.date.replace(/:/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  if (!args.json) process.stdout.write(`results written to ${file}\n`);
  const { details: _details, ...summary } = report;
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return report;
}

/**
 * --secure: once the plaintext cluster is stopped, the same produce and consume phases on a
 * secure cluster (`local up --secure`: TLS on every listener, mutual TLS between the processes,
 * SCRAM users, ACLs checked on every request), the client authenticated as a user with ACLs
 * (SCRAM-SHA-256, then a bearer token per broker). One after the other, never at once: they share the cores.
 */
async function secureThroughput(args: BenchArgs, report: BenchReport, rows: Row[], log: (line: string) => void): Promise<void> {
  const cluster = await startCluster({ keep: args.keep, log, secure: true });
  const admin = new Admin({ bootstrap: cluster.bootstrap, ...cluster.client });
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const versus = (secure: number, plain: number | undefined) =>
    plain === undefined ? 'no plaintext figure' : `${((secure / plain) * 100).toFixed(1)} % of plaintext (${fmt(plain)} rec/s)`;
  /** Plaintext CPU per record over secure CPU per record (client + cluster), when both are known. */
  const cpuRatio = (plainClient?: number, plainCluster?: number, secureClient?: number, secureCluster?: number): number | undefined =>
    [plainClient, plainCluster, secureClient, secureCluster].some((x) => x === undefined) || secureClient! + secureCluster! <= 0
      ? undefined
      : round((plainClient! + plainCluster!) / (secureClient! + secureCluster!), 3);
  const cpuNote = (ratio: number | undefined) => (ratio === undefined ? '' : `, ${(ratio * 100).toFixed(1)} % of plaintext's records per CPU-second`);
  const meter = () => {
    const cpuSince = clusterCpuMeter(cluster.state());
    return (records: number): number | undefined => {
      const cpu = cpuSince();
      return cpu === undefined || records <= 0 ? undefined : round((cpu * 1e6) / records, 2);
    };
  };
  try {
    const topic = `bench-${Date.now().toString(36)}-secure`;
    await createBenchTopic(admin, topic, THROUGHPUT_PARTITIONS);
    // Not the super user: a user whose every produce and fetch the ACLs decide, as an
    // application's would be. Write and Read on the bench's topics (prefixed), nothing else.
    const password = randomBytes(18).toString('base64url');
    await admin.upsertUser(BENCH_USER, password);
    await admin.createAcls(
      (['Write', 'Read'] as const).map((operation) => ({
        principal: `User:${BENCH_USER}`,
        host: '*',
        operation,
        permission: 'Allow' as const,
        resourceType: 'Topic' as const,
        resourceName: 'bench-',
        patternType: 'Prefixed' as const,
      })),
    );
    const client = { ...cluster.client, credentials: { user: BENCH_USER, password } };
    // Every broker has the user and the ACLs once a record reaches each partition (every leader).
    const probes = await grantedEverywhere(cluster.bootstrap, topic, client);
    const produceCpu = meter();
    const p = await produceThroughput(
      cluster.bootstrap,
      topic,
      args.records,
      { acks: 'all', idempotent: true },
      new Progress('produce acks=all, secure', args.records),
      undefined,
      client,
    );
    if (args.only.includes('produce')) {
      report.secureProduceRecordsPerSec = Math.round(p.recordsPerSec);
      report.secureProduceMBps = round(p.mbPerSec);
      report.secureProduceClientCpuUsPerRecord = round(p.clientCpuUsPerRecord);
      report.secureProduceClusterCpuUsPerRecord = produceCpu(p.records);
      if (report.produceRecordsPerSec !== undefined) report.secureProduceRatio = round(p.recordsPerSec / report.produceRecordsPerSec, 3);
      const produceCpuRatio = cpuRatio(
        report.produceClientCpuUsPerRecord,
        report.produceClusterCpuUsPerRecord,
        report.secureProduceClientCpuUsPerRecord,
        report.secureProduceClusterCpuUsPerRecord,
      );
      if (produceCpuRatio !== undefined) report.secureProduceCpuRatio = produceCpuRatio;
      report.details.secureProduce = p;
      const row = throughputRow('produce acks=all, secure', p, report.secureProduceClusterCpuUsPerRecord);
      rows.push({ ...row, detail: `${versus(p.recordsPerSec, report.produceRecordsPerSec)}${cpuNote(produceCpuRatio)}; ${row.detail}` });
    }
    if (args.only.includes('consume')) {
      const consumeCpu = meter();
      const expected = args.records + 1 + probes;
      const c = await consumeAll(cluster.bootstrap, topic, expected, new Progress('consume, secure', expected), client);
      report.secureConsumeRecordsPerSec = Math.round(c.recordsPerSec);
      report.secureConsumeMBps = round(c.mbPerSec);
      report.secureConsumeClusterCpuUsPerRecord = consumeCpu(c.records);
      report.secureConsumeClientCpuUsPerRecord = round(c.clientCpuUsPerRecord, 3);
      if (report.consumeRecordsPerSec !== undefined) report.secureConsumeRatio = round(c.recordsPerSec / report.consumeRecordsPerSec, 3);
      const consumeCpuRatio = cpuRatio(
        report.consumeClientCpuUsPerRecord,
        report.consumeClusterCpuUsPerRecord,
        report.secureConsumeClientCpuUsPerRecord,
        report.secureConsumeClusterCpuUsPerRecord,
      );
      if (consumeCpuRatio !== undefined) report.secureConsumeCpuRatio = consumeCpuRatio;
      report.details.secureConsume = c;
      rows.push({
        phase: 'consume from start, secure',
        result: `${fmt(c.recordsPerSec)} rec/s`,
        detail: `${versus(c.recordsPerSec, report.consumeRecordsPerSec)}${cpuNote(consumeCpuRatio)}; ${c.mbPerSec.toFixed(1)} MB/s values, ${fmt(c.records)} records in ${c.seconds.toFixed(2)} s; client ${c.clientCpuUsPerRecord.toFixed(2)} µs CPU/record${
          report.secureConsumeClusterCpuUsPerRecord === undefined ? '' : `; cluster ${report.secureConsumeClusterCpuUsPerRecord} µs CPU/record`
        }`,
      });
    }
    await admin.deleteTopic(topic).catch(() => undefined);
  } finally {
    await admin.close().catch(() => undefined);
    await cluster.stop();
  }
}

/** The user the secure phases produce and consume as. */
const BENCH_USER = 'bench';

/**
 * Sends one record to each partition as the new user until all are acknowledged (the user's
 * credential and ACLs reach each broker with its next metadata); returns how many it sent.
 */
async function grantedEverywhere(bootstrap: string, topic: string, client: Pick<ClientOptions, 'ca' | 'credentials'>): Promise<number> {
  const producer = new Producer({ bootstrap, ...client, acks: 'all', idempotent: false, maxBlockMs: 2000, deliveryTimeoutMs: 2000 });
  const pending = new Set(Array.from({ length: THROUGHPUT_PARTITIONS }, (_, i) => i));
  try {
    const ok = await waitFor(
      async () => {
        for (const partition of [...pending]) {
          await producer.send({ topic, partition, value: Buffer.from('probe') });
          pending.delete(partition);
        }
        return pending.size === 0;
      },
      30_000,
      200,
    );
    if (!ok) throw new Error(`user ${BENCH_USER} could not write to partitions ${[...pending].join(', ')} of ${topic} within 30 s`);
  } finally {
    await producer.close().catch(() => undefined);
  }
  return THROUGHPUT_PARTITIONS;
}

function throughputRow(phase: string, r: ThroughputResult, clusterCpuUsPerRecord: number | undefined): Row {
  const cluster = clusterCpuUsPerRecord === undefined ? '' : `, cluster ${clusterCpuUsPerRecord} µs`;
  return {
    phase,
    result: `${Math.round(r.recordsPerSec).toLocaleString('en-US')} rec/s`,
    detail: `${r.mbPerSec.toFixed(1)} MB/s values, ${r.records.toLocaleString('en-US')} × 100 B in ${r.seconds.toFixed(2)} s, client ${r.clientCpuUsPerRecord.toFixed(2)} µs${cluster} CPU/record${r.failed > 0 ? `, ${r.failed} FAILED` : ''}`,
  };
}

function table(rows: Row[]): string {
  const w1 = Math.max(5, ...rows.map((r) => r.phase.length));
  const w2 = Math.max(6, ...rows.map((r) => r.result.length));
  const line = (a: string, b: string, c: string) => `${a.padEnd(w1)}  ${b.padStart(w2)}  ${c}`;
  return [line('phase', 'result', 'detail'), line('-'.repeat(w1), '-'.repeat(w2), '------'), ...rows.map((r) => line(r.phase, r.result, r.detail))].join('\n');
}
