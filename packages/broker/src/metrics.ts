// Prometheus metrics (prom-client), one Registry per broker so that several brokers can share a
// process in tests. Gauges over partitions are computed when scraped, not on the hot path; the hot
// path only bumps counters and observes a histogram per request.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { sharedBatchValidatorHandoffs } from '@tributary/storage';
import type { ServerBudget } from '@tributary/transport/server';
import type { LogCleaner } from './log-cleaner.ts';
import type { ReplicaManager } from './replica-manager.ts';

const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class BrokerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'api' | 'error'>;
  readonly partitionErrors: Counter<'api' | 'error'>;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly replicationBytesIn: Counter;
  readonly reassignmentBytesIn: Counter;
  readonly reassignmentBytesOut: Counter;
  readonly isrShrinks: Counter;
  readonly isrExpands: Counter;
  readonly requestLatency: Histogram<'api'>;
  /** Refused authentications (Kafka's failed-authentication-total), by why. */
  readonly authenticationFailures: Counter<'reason'>;
  /** Refused authorizations, by operation and resource type. */
  readonly authorizationFailures: Counter<'operation' | 'resource_type'>;

  constructor(labels: { brokerId: number; rack: string }, replicas: () => ReplicaManager | undefined, nowMs: () => number = Date.now) {
    this.registry.setDefaultLabels({ broker_id: String(labels.brokerId), rack: labels.rack });
    collectDefaultMetrics({ register: this.registry, prefix: 'tributary_broker_' });
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'tributary_requests_total',
      help: 'Requests by API and whole-request error code (none = ok)',
      labelNames: ['api', 'error'],
      registers,
    });
    this.partitionErrors = new Counter({
      name: 'tributary_partition_errors_total',
      help: 'Per-partition errors in answers, by API and code',
      labelNames: ['api', 'error'],
      registers,
    });
    this.authenticationFailures = new Counter({
      name: 'tributary_authentication_failures_total',
      help: 'Requests refused for want of authentication (reason: sasl = no, wrong or expired credentials; certificate = a cluster route without a cluster certificate)',
      labelNames: ['reason'],
      registers,
    });
    this.authorizationFailures = new Counter({
      name: 'tributary_authorization_failures_total',
      help: 'Operations refused by the ACLs, by operation and resource type (ClusterAction on Cluster: a cluster certificate acting as another process)',
      labelNames: ['operation', 'resource_type'],
      registers,
    });
    this.bytesIn = new Counter({ name: 'tributary_bytes_in_total', help: 'Record bytes appended from producers', registers });
    this.bytesOut = new Counter({ name: 'tributary_bytes_out_total', help: 'Record bytes served to consumers and followers', registers });
    this.replicationBytesIn = new Counter({ name: 'tributary_replication_bytes_in_total', help: 'Record bytes copied from leaders', registers });
    // Kafka's BrokerTopicMetrics.ReassignmentBytesInPerSec / ReassignmentBytesOutPerSec (KIP-455).
    this.reassignmentBytesIn = new Counter({
      name: 'tributary_reassignment_bytes_in_total',
      help: 'Record bytes copied from leaders for replicas a reassignment is adding here',
      registers,
    });
    this.reassignmentBytesOut = new Counter({
      name: 'tributary_reassignment_bytes_out_total',
      help: 'Record bytes sent, as leader, to replicas a reassignment is adding',
      registers,
    });
    this.isrShrinks = new Counter({ name: 'tributary_isr_shrinks_total', help: 'ISR shrinks committed for partitions this broker leads', registers });
    this.isrExpands = new Counter({ name: 'tributary_isr_expands_total', help: 'ISR expansions committed for partitions this broker leads', registers });
    this.requestLatency = new Histogram({
      name: 'tributary_request_latency_seconds',
      help: 'Request latency by API (produce_acks_all, produce, fetch, replica_fetch, ...)',
      labelNames: ['api'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });

    new Counter({
      name: 'tributary_batch_validator_handoffs_total',
      help: "Leader batches checked on the validator thread while they were written (the others are checked inline: small ones, an epoch's first, or while the thread slept)",
      registers,
      collect() {
        this.reset();
        this.inc(sharedBatchValidatorHandoffs());
      },
    });

    const each = (fn: (rm: ReplicaManager) => void) => {
      const rm = replicas();
      if (rm !== undefined) fn(rm);
    };
    new Gauge({
      name: 'tributary_partition_count',
      help: 'Partition replicas on this broker',
      registers,
      collect() {
        each((rm) => this.set(rm.partitionCount));
      },
    });
    new Gauge({
      name: 'tributary_leader_count',
      help: 'Partitions this broker leads',
      registers,
      collect() {
        each((rm) => this.set([...rm.allPartitions()].filter((p) => p.isLeader).length));
      },
    });
    new Gauge({
      name: 'tributary_under_replicated_partitions',
      help: 'Led partitions whose ISR is smaller than the replica set',
      registers,
      collect() {
        each((rm) => this.set([...rm.allPartitions()].filter((p) => p.leaderState?.isUnderReplicated).length));
      },
    });
    new Gauge({
      name: 'tributary_under_min_isr_partitions',
      help: 'Led partitions whose ISR is below min.insync.replicas',
      registers,
      collect() {
        each((rm) => this.set([...rm.allPartitions()].filter((p) => p.leaderState?.isUnderMinIsr).length));
      },
    });
    new Gauge({
      // Kafka's ReplicaManager.ReassigningPartitions: led partitions with a reassignment in progress.
      name: 'tributary_reassigning_partitions',
      help: 'Led partitions being reassigned (adding or removing replicas)',
      registers,
      collect() {
        each((rm) => this.set([...rm.allPartitions()].filter((p) => p.isLeader && (p.addingReplicas.length > 0 || p.removingReplicas.length > 0)).length));
      },
    });
    new Gauge({
      name: 'tributary_offline_partitions',
      help: 'Hosted partitions with no leader',
      registers,
      collect() {
        each((rm) => this.set([...rm.allPartitions()].filter((p) => p.leaderId < 0).length));
      },
    });
    new Gauge({
      name: 'tributary_max_follower_lag_records',
      help: 'Largest follower lag in records over led partitions',
      registers,
      collect() {
        each((rm) => {
          let max = 0;
          const now = nowMs();
          for (const p of rm.allPartitions()) for (const r of p.leaderState?.describe(now) ?? []) max = Math.max(max, r.lagRecords);
          this.set(max);
        });
      },
    });
    new Gauge({
      name: 'tributary_max_follower_lag_ms',
      help: 'Longest time since a follower of a led partition was caught up',
      registers,
      collect() {
        each((rm) => {
          let max = 0;
          const now = nowMs();
          for (const p of rm.allPartitions())
            for (const r of p.leaderState?.describe(now) ?? []) if (r.lagRecords > 0) max = Math.max(max, r.lastCaughtUpMsAgo);
          this.set(max);
        });
      },
    });
    const perPartition = (
      name: string,
      help: string,
      value: (p: ReturnType<ReplicaManager['allPartitions']> extends IterableIterator<infer P> ? P : never) => number,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ['topic', 'partition'],
        registers,
        collect() {
          this.reset();
          each((rm) => {
            for (const p of rm.allPartitions()) this.set({ topic: p.topic, partition: String(p.partition) }, value(p));
          });
        },
      });
    perPartition('tributary_log_size_bytes', 'Bytes in the partition log', (p) => p.log.sizeInBytes);
    perPartition('tributary_log_end_offset', 'Log end offset', (p) => p.log.logEndOffset);
    perPartition('tributary_log_start_offset', 'Log start offset', (p) => p.log.logStartOffset);
    perPartition('tributary_high_watermark', 'High watermark', (p) => p.highWatermark);
  }

  /** The process's connection and request-byte caps (DESIGN.md § Limits), read when scraped. */
  /**
   * The group coordinator's gauges (Kafka's GroupMetadataManager NumGroups / NumGroups{state},
   * and the __consumer_offsets partitions it serves or is still loading).
   */
  watchCoordinator(
    host: {
      stats(): { groups: Map<string, number>; partitionsActive: number; partitionsLoading: number };
      readonly rebalances?: ReadonlyMap<string, number>;
      groupOffsets?(
        highWatermark: (topic: string, partition: number) => number | undefined,
      ): { groupId: string; topic: string; partition: number; committed: number; lag: number | undefined }[];
      groupSizes?(): { groupId: string; members: number; generationId: number }[];
    },
    replicas?: () => ReplicaManager | undefined,
  ): void {
    const registers = [this.registry];
    if (host.groupOffsets !== undefined && replicas !== undefined) {
      const offsets = host.groupOffsets.bind(host);
      const read = () => {
        const rm = replicas();
        return rm === undefined ? [] : offsets((topic, partition) => rm.getPartition(topic, partition)?.highWatermark);
      };
      new Gauge({
        name: 'tributary_group_committed_offset',
        help: "A group's committed offset (the next record it reads), for the groups this broker coordinates",
        labelNames: ['group', 'topic', 'partition'],
        registers,
        collect() {
          this.reset();
          for (const o of read()) this.set({ group: o.groupId, topic: o.topic, partition: String(o.partition) }, o.committed);
        },
      });
      new Gauge({
        name: 'tributary_group_lag',
        help: "Records between a group's committed offset and the partition's high watermark, for the groups this broker coordinates and the partitions it hosts a replica of (elsewhere: tributary_high_watermark of the leader minus tributary_group_committed_offset)",
        labelNames: ['group', 'topic', 'partition'],
        registers,
        collect() {
          this.reset();
          for (const o of read()) if (o.lag !== undefined) this.set({ group: o.groupId, topic: o.topic, partition: String(o.partition) }, o.lag);
        },
      });
    }
    if (host.groupSizes !== undefined) {
      const sizes = host.groupSizes.bind(host);
      new Gauge({
        name: 'tributary_group_members',
        help: 'Members of each group this broker coordinates',
        labelNames: ['group'],
        registers,
        collect() {
          this.reset();
          for (const g of sizes()) this.set({ group: g.groupId }, g.members);
        },
      });
    }
    if (host.rebalances !== undefined) {
      const rebalances = host.rebalances;
      new Counter({
        name: 'tributary_group_rebalances_total',
        help: 'Rebalances started, by group, while this broker coordinated it',
        labelNames: ['group'],
        registers,
        collect() {
          this.reset();
          for (const [group, n] of rebalances) this.inc({ group }, n);
        },
      });
    }
    new Gauge({
      name: 'tributary_coordinator_groups',
      help: 'Consumer groups this broker coordinates, by state',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const { groups } = host.stats();
        for (const state of ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead']) this.set({ state }, groups.get(state) ?? 0);
      },
    });
    new Gauge({
      name: 'tributary_coordinator_partitions',
      help: '__consumer_offsets partitions this broker leads, by load state (loading: groups answer COORDINATOR_LOAD_IN_PROGRESS)',
      labelNames: ['state'],
      registers,
      collect() {
        const { partitionsActive, partitionsLoading } = host.stats();
        this.set({ state: 'active' }, partitionsActive);
        this.set({ state: 'loading' }, partitionsLoading);
      },
    });
  }

  watchBudget(budget: ServerBudget): void {
    const registers = [this.registry];
    new Gauge({
      name: 'tributary_connections_open',
      help: 'Open client connections over all listeners (connectionsMax caps them)',
      registers,
      collect() {
        this.set(budget.connections.open);
      },
    });
    new Counter({
      name: 'tributary_connections_refused_total',
      help: 'Connections closed at once because connectionsMax were open',
      registers,
      collect() {
        this.reset();
        this.inc(budget.connections.refused);
      },
    });
    new Gauge({
      name: 'tributary_request_bytes_in_flight',
      help: 'Request body bytes admitted and not yet handled (requestBytesInFlightMax caps them)',
      registers,
      collect() {
        this.set(budget.bytes.inFlight);
      },
    });
    new Gauge({
      name: 'tributary_requests_waiting_for_bytes',
      help: 'Requests waiting, unread, for requestBytesInFlightMax to make room',
      registers,
      collect() {
        this.set(budget.bytes.waiting);
      },
    });
  }

  /**
   * The log cleaner, read when scraped; Kafka's LogCleaner / LogCleanerManager metric names
   * where they exist (max-dirty-percent, time-since-last-run-ms, max-clean-time-secs,
   * cleaner-recopy-percent, max-buffer-utilization-percent, uncleanable-partitions-count,
   * max-compaction-delay-secs), counters for what it did.
   */
  watchCleaner(cleaner: LogCleaner, nowMs: () => number = Date.now): void {
    const registers = [this.registry];
    const counter = (name: string, help: string, value: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(value());
        },
      });
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value());
        },
      });
    counter('tributary_log_cleaner_bytes_read_total', 'Bytes the log cleaner read (scans and the segments it rewrote)', () => cleaner.bytesRead);
    counter('tributary_log_cleaner_bytes_written_total', 'Bytes of cleaned segments the log cleaner wrote', () => cleaner.bytesWritten);
    counter(
      'tributary_log_cleaner_records_removed_total',
      'Records the log cleaner removed (older values of a key, expired tombstones)',
      () => cleaner.recordsRemoved,
    );
    new Counter({
      name: 'tributary_log_cleaner_cleanings_total',
      help: 'Cleanings by result: done, aborted (the log changed under it, or the broker stopped), failed (the partition is now uncleanable)',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        for (const [result, n] of Object.entries(cleaner.cleanings)) this.inc({ result }, n);
      },
    });
    gauge('tributary_log_cleaner_max_dirty_percent', "Kafka's max-dirty-percent: the highest dirty ratio of a compacted log at the last pass, in percent", () =>
      Math.round(100 * cleaner.maxDirtyRatio),
    );
    gauge('tributary_log_cleaner_time_since_last_run_ms', "Kafka's time-since-last-run-ms: since the cleaner last looked for a log to clean", () =>
      Math.max(0, nowMs() - cleaner.lastRunMs),
    );
    gauge(
      'tributary_log_cleaner_max_clean_time_secs',
      "Kafka's max-clean-time-secs: how long the last cleaning took",
      () => cleaner.lastCleanDurationMs / 1000,
    );
    gauge('tributary_log_cleaner_recopy_percent', "Kafka's cleaner-recopy-percent: bytes written / bytes of the segments rewritten, last cleaning", () =>
      Math.round(100 * cleaner.lastRecopyRatio),
    );
    gauge('tributary_log_cleaner_max_buffer_utilization_percent', "Kafka's max-buffer-utilization-percent: how full the last cleaning's offset map was", () =>
      Math.round(100 * cleaner.lastBufferUtilization),
    );
    gauge(
      'tributary_log_cleaner_uncleanable_partitions_count',
      "Kafka's uncleanable-partitions-count: partitions whose cleaning failed",
      () => cleaner.uncleanableCount,
    );
    gauge(
      'tributary_log_cleaner_max_compaction_delay_secs',
      "Kafka's max-compaction-delay-secs: how far past max.compaction.lag.ms the most overdue log is",
      () => cleaner.maxCompactionDelayMs / 1000,
    );
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
