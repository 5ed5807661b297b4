// Metadata deltas (KRaft's MetadataDelta, over the long poll): a broker that holds version v asks
// for what changed since v and gets the brokers, topics and partitions touched by the records
// after v, in their current form — not the whole cluster on every change. With 10,000
// partitions a full copy per ISR change, to every broker, is what made a broker's death O(N²).
//
// `MetadataDeltaLog` remembers, for the last `entriesMax` records, what each touched (a broker,
// a topic's configs, a partition, a whole topic created, a topic deleted); `since(state, v)`
// folds the entries after v and reads the touched things from the current state. It answers
// undefined when v is older than what it remembers (a broker far behind, or first contact after
// a controller restart): that broker gets the full metadata, as before. Pure: no I/O, no clock.

import { assert, type MetadataDelta, type MetadataDeltaTopic } from '@tributary/protocol';
import { clonePartition, type ClusterState } from './cluster-state.ts';
import type { MetadataRecord } from './records.ts';

type Touch =
  | { kind: 'none' }
  | { kind: 'broker'; brokerId: number }
  | { kind: 'topic-created'; topic: string }
  | { kind: 'topic-deleted'; topic: string; topicId: string }
  | { kind: 'topic-configs'; topic: string }
  | { kind: 'partitions'; topic: string; partitions: number[] }
  | { kind: 'credentials' }
  | { kind: 'acls' };

function touchOf(record: MetadataRecord): Touch {
  switch (record.type) {
    case 'RegisterBroker':
    case 'FenceBroker':
    case 'UnfenceBroker':
    case 'BrokerConfig':
      return { kind: 'broker', brokerId: record.brokerId };
    case 'CreateTopic':
      return { kind: 'topic-created', topic: record.name };
    case 'DeleteTopic':
      return { kind: 'topic-deleted', topic: record.name, topicId: record.topicId };
    case 'TopicConfig':
      return { kind: 'topic-configs', topic: record.topic };
    case 'PartitionChange':
      return { kind: 'partitions', topic: record.topic, partitions: [record.partition] };
    case 'CreatePartitions':
      return { kind: 'partitions', topic: record.topic, partitions: record.partitions.map((p) => p.partition) };
    // The cluster id only comes first (a broker never holds a version before it); producer-id
    // blocks are not published.
    case 'ClusterId':
    case 'ProducerIdBlock':
      return { kind: 'none' };
    case 'UserScramCredential':
    case 'RemoveUserScramCredential':
      return { kind: 'credentials' };
    case 'AccessControlEntry':
    case 'RemoveAccessControlEntry':
      return { kind: 'acls' };
  }
}

export class MetadataDeltaLog {
  private readonly entriesMax: number;
  /** touches[i] is what the record that made version firstVersion + i touched. */
  private touches: Touch[] = [];
  private firstVersion: number;

  /** `version`: the state's version now (after replay); deltas reach back no further. */
  constructor(version: number, entriesMax = 100_000) {
    assert(entriesMax > 0, 'a delta log needs room for one entry');
    this.entriesMax = entriesMax;
    this.firstVersion = version + 1;
  }

  /** The oldest version a delta can start from. */
  get oldestVersion(): number {
    return this.firstVersion - 1;
  }

  /** Notes an applied record; `version` is the state's version after it. */
  note(record: MetadataRecord, version: number): void {
    assert(version === this.firstVersion + this.touches.length, `delta log noted version ${version}, expected ${this.firstVersion + this.touches.length}`);
    this.touches.push(touchOf(record));
    if (this.touches.length > this.entriesMax * 2) {
      // Dropped in halves, so noting stays O(1) amortized.
      const drop = this.touches.length - this.entriesMax;
      this.touches = this.touches.slice(drop);
      this.firstVersion += drop;
    }
  }

  /**
   * What changed after `sinceVersion`, read from `state` (at the version of the last note), or
   * undefined when the log does not reach back that far (send the whole metadata instead).
   */
  since(state: ClusterState, sinceVersion: number): MetadataDelta | undefined {
    if (sinceVersion < this.oldestVersion || sinceVersion > state.version) return undefined;
    assert(
      state.version === this.firstVersion + this.touches.length - 1,
      `delta log at ${this.firstVersion + this.touches.length - 1}, state at ${state.version}`,
    );
    const brokers = new Set<number>();
    let credentials = false;
    let acls = false;
    const deleted: { name: string; topicId: string }[] = [];
    // Per topic: whole (created since) or the partitions that changed, and whether its configs did.
    const topics = new Map<string, { full: boolean; configs: boolean; partitions: Set<number> }>();
    const entry = (topic: string) => {
      let e = topics.get(topic);
      if (e === undefined) {
        e = { full: false, configs: false, partitions: new Set() };
        topics.set(topic, e);
      }
      return e;
    };
    for (let i = sinceVersion + 1 - this.firstVersion; i < this.touches.length; i++) {
      const touch = this.touches[i]!;
      switch (touch.kind) {
        case 'broker':
          brokers.add(touch.brokerId);
          break;
        case 'topic-created':
          entry(touch.topic).full = true;
          break;
        case 'topic-deleted':
          deleted.push({ name: touch.topic, topicId: touch.topicId });
          topics.delete(touch.topic);
          break;
        case 'topic-configs':
          entry(touch.topic).configs = true;
          break;
        case 'partitions':
          for (const p of touch.partitions) entry(touch.topic).partitions.add(p);
          break;
        case 'credentials':
          credentials = true;
          break;
        case 'acls':
          acls = true;
          break;
        case 'none':
          break;
      }
    }
    const out: MetadataDeltaTopic[] = [];
    for (const [name, e] of topics) {
      const topic = state.topics.get(name);
      if (topic === undefined) continue;
      const partitions = e.full ? topic.partitions : [...e.partitions].sort((a, b) => a - b).map((p) => topic.partitions[p]!);
      out.push({
        name,
        topicId: topic.topicId,
        full: e.full,
        configsChanged: e.full || e.configs,
        configs: { ...topic.configs },
        partitions: partitions.map((p) => clonePartition(p)),
      });
    }
    return {
      fromVersion: sinceVersion,
      brokers: [...brokers]
        .sort((a, b) => a - b)
        .flatMap((id) => {
          const b = state.brokers.get(id);
          return b === undefined ? [] : [structuredClone(b)];
        }),
      deletedTopics: deleted,
      topics: out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      ...(credentials ? { scramCredentials: [...state.scramCredentials.values()].flatMap((m) => [...m.values()]) } : {}),
      ...(acls ? { acls: [...state.acls.values()] } : {}),
    };
  }
}
