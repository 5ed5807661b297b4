// Prometheus metrics (prom-client), one Registry per broker so that several brokers can share a
// process in tests. Gauges over partitions are computed when scraped, not on the hot path; the hot
// path only bumps counters and observes a histogram per request.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServerBudget } from '@tributary/transport/server';
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
  watchCoordinator(host: { stats(): { groups: Map<string, number>; partitionsActive: number; partitionsLoading: number } }): void {
    const registers = [this.registry];
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

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
