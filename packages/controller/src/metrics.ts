// The controller's Prometheus metrics, on a per-process Registry (never prom-client's global one,
// so tests can run several controllers in one process). Names follow Kafka's controller metrics
// (ActiveControllerCount, FencedBrokerCount, OfflinePartitionsCount, ...) in Prometheus style.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DEFAULT_TOPIC_CONFIGS, NO_LEADER } from '@tributary/protocol';
import type { ServerBudget } from '@tributary/transport/server';
import type { ClusterController } from './cluster-controller.ts';
import { partitionStatus } from './console-view.ts';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly isrShrinks: Counter;
  readonly isrExpands: Counter;
  readonly leaderElections: Counter;
  readonly requests: Counter<'route' | 'status'>;
  readonly requestDuration: Histogram<'route'>;
  /** Refused authentications (Kafka's failed-authentication-total), by why. */
  readonly authenticationFailures: Counter<'reason'>;
  /** Refused authorizations, by operation and resource type. */
  readonly authorizationFailures: Counter<'operation' | 'resource_type'>;

  constructor(controller: ClusterController, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const state = controller.state;
    // Process metrics carry the role in their prefix, as the brokers' do (tributary_broker_…).
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'tributary_controller_' });
    new Gauge({
      name: 'tributary_active_controller_count',
      help: 'Whether this process is the active controller (always 1: there is one controller)',
      registers,
      collect() {
        this.set(1);
      },
    });
    new Gauge({
      name: 'tributary_metadata_version',
      help: 'Version of the cluster metadata (records applied)',
      registers,
      collect() {
        this.set(state.version);
      },
    });
    new Gauge({
      name: 'tributary_fenced_broker_count',
      help: 'Registered brokers that are fenced (not alive)',
      registers,
      collect() {
        this.set([...state.brokers.values()].filter((b) => !b.alive).length);
      },
    });
    new Gauge({
      name: 'tributary_active_broker_count',
      help: 'Registered brokers that are alive',
      registers,
      collect() {
        this.set(state.liveBrokers().length);
      },
    });
    new Gauge({
      name: 'tributary_global_topic_count',
      help: 'Topics in the cluster',
      registers,
      collect() {
        this.set(state.topics.size);
      },
    });
    new Gauge({
      name: 'tributary_global_partition_count',
      help: 'Partitions in the cluster',
      registers,
      collect() {
        this.set([...state.allPartitions()].length);
      },
    });
    new Gauge({
      name: 'tributary_offline_partitions_count',
      help: 'Partitions without a leader (no live in-sync replica)',
      registers,
      collect() {
        this.set([...state.allPartitions()].filter(({ partition }) => partition.leader === NO_LEADER).length);
      },
    });
    // The cluster-wide view from the metadata (each leader reports its own share too).
    const countStatus = (status: 'under-replicated' | 'under-min-isr') => {
      let n = 0;
      for (const topic of state.topics.values()) {
        const minIsr = topic.configs['min.insync.replicas'] ?? DEFAULT_TOPIC_CONFIGS['min.insync.replicas'];
        for (const p of topic.partitions) if (partitionStatus(p, minIsr).includes(status)) n++;
      }
      return n;
    };
    new Gauge({
      name: 'tributary_cluster_under_replicated_partitions',
      help: 'Partitions with a leader whose ISR is smaller than the replica set, cluster-wide',
      registers,
      collect() {
        this.set(countStatus('under-replicated'));
      },
    });
    new Gauge({
      name: 'tributary_cluster_under_min_isr_partitions',
      help: 'Partitions with a leader whose ISR is below min.insync.replicas, cluster-wide',
      registers,
      collect() {
        this.set(countStatus('under-min-isr'));
      },
    });
    new Gauge({
      // Kafka's ReplicaManager.ReassigningPartitions, cluster-wide from the metadata (KIP-455).
      name: 'tributary_reassigning_partitions',
      help: 'Partitions with a reassignment in progress (adding or removing replicas)',
      registers,
      collect() {
        this.set(state.reassigning.size);
      },
    });
    new Gauge({
      name: 'tributary_preferred_replica_imbalance_count',
      help: 'Partitions not led by their preferred (first) replica',
      registers,
      collect() {
        this.set([...state.allPartitions()].filter(({ partition }) => partition.leader !== partition.replicas[0]).length);
      },
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
    this.isrShrinks = new Counter({ name: 'tributary_controller_isr_shrinks_total', help: 'ISR changes that removed a replica', registers });
    this.isrExpands = new Counter({ name: 'tributary_controller_isr_expands_total', help: 'ISR changes that added a replica', registers });
    this.leaderElections = new Counter({
      name: 'tributary_controller_leader_elections_total',
      help: 'Partition leader changes (including to no leader)',
      registers,
    });
    this.requests = new Counter({
      name: 'tributary_controller_requests_total',
      help: 'Requests answered, by route and HTTP status',
      labelNames: ['route', 'status'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'tributary_controller_request_duration_seconds',
      help: 'Request latency by route (long polls include their wait)',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers,
    });
    controller.subscribe((applied) => {
      for (const { record, before } of applied) {
        if (record.type !== 'PartitionChange' || before === undefined) continue;
        if (before.isr.some((id) => !record.isr.includes(id))) this.isrShrinks.inc();
        if (record.isr.some((id) => !before.isr.includes(id))) this.isrExpands.inc();
        if (before.leader !== record.leader) this.leaderElections.inc();
      }
    });
    new Counter({
      name: 'tributary_controller_stalled_seconds_total',
      help: 'Time the controller could not hear brokers (its session checks ran late); not counted against broker sessions',
      registers,
      collect() {
        this.reset();
        this.inc(controller.stalledMs / 1000);
      },
    });
  }

  /** The process's connection and request-byte caps (DESIGN.md § Limits), read when scraped. */
  watchBudget(budget: ServerBudget): void {
    const registers = [this.registry];
    new Gauge({
      name: 'tributary_controller_connections_open',
      help: 'Open connections (connectionsMax caps them)',
      registers,
      collect() {
        this.set(budget.connections.open);
      },
    });
    new Counter({
      name: 'tributary_controller_connections_refused_total',
      help: 'Connections closed at once because connectionsMax were open',
      registers,
      collect() {
        this.reset();
        this.inc(budget.connections.refused);
      },
    });
    new Gauge({
      name: 'tributary_controller_request_bytes_in_flight',
      help: 'Request body bytes admitted and not yet handled (requestBytesInFlightMax caps them)',
      registers,
      collect() {
        this.set(budget.bytes.inFlight);
      },
    });
    new Gauge({
      name: 'tributary_controller_requests_waiting_for_bytes',
      help: 'Requests waiting, unread, for requestBytesInFlightMax to make room',
      registers,
      collect() {
        this.set(budget.bytes.waiting);
      },
    });
  }
}
