// The web console's event timeline: what an operator watching a failover wants to read, derived
// from the records the controller has just applied (leader moves, ISR shrinks and expansions,
// brokers fenced and registered, topics created and deleted, partitions added, reassignments
// started, completed and cancelled). Pure: the controller's commit listener passes the applied
// records, the metadata version after them and the time.

import { NO_LEADER, type BrokerId } from '@tributary/protocol';
import type { AppliedRecord } from './cluster-controller.ts';

export type ConsoleEventKind =
  | 'broker-registered'
  | 'broker-fenced'
  | 'broker-unfenced'
  | 'topic-created'
  | 'topic-deleted'
  | 'leader-changed'
  | 'partition-offline'
  | 'isr-shrunk'
  | 'isr-expanded'
  | 'partitions-created'
  | 'reassignment-started'
  | 'reassignment-completed'
  | 'reassignment-cancelled';

export interface ConsoleEvent {
  /** Milliseconds since the epoch, when the controller applied the record. */
  timeMs: number;
  /** The metadata version of the record that caused it. */
  version: number;
  kind: ConsoleEventKind;
  /**
   * The broker the event is about: the one registered or fenced, the new leader, the leader an
   * offline partition lost, the first broker that left or rejoined an ISR.
   */
  brokerId?: BrokerId;
  /**
   * ISR events: every broker that left (shrunk) or rejoined (expanded). Reassignment events: the
   * brokers being added, then those being removed (`brokerId` the first of them).
   */
  brokers?: BrokerId[];
  topic?: string;
  partition?: number;
  /** One readable sentence, e.g. `demo-3: leader B4 -> B2 (epoch 2)`. */
  text: string;
}

export interface EventContext {
  timeMs: number;
  /** The metadata version after the last of `applied`. */
  versionAfter: number;
  /** The rack of a broker, for readable broker events. */
  rackOf: (brokerId: BrokerId) => string | undefined;
}

export function consoleEvents(applied: readonly AppliedRecord[], context: EventContext): ConsoleEvent[] {
  const events: ConsoleEvent[] = [];
  const firstVersion = context.versionAfter - applied.length + 1;
  applied.forEach(({ record, before }, i) => {
    const base = { timeMs: context.timeMs, version: firstVersion + i };
    const broker = (id: BrokerId) => {
      const rack = context.rackOf(id);
      return rack === undefined ? `B${id}` : `B${id} (${rack})`;
    };
    switch (record.type) {
      case 'RegisterBroker':
        events.push({
          ...base,
          kind: 'broker-registered',
          brokerId: record.brokerId,
          text: `broker ${broker(record.brokerId)} registered, epoch ${record.brokerEpoch}`,
        });
        break;
      case 'FenceBroker':
        events.push({ ...base, kind: 'broker-fenced', brokerId: record.brokerId, text: `broker ${broker(record.brokerId)} fenced` });
        break;
      case 'UnfenceBroker':
        events.push({ ...base, kind: 'broker-unfenced', brokerId: record.brokerId, text: `broker ${broker(record.brokerId)} unfenced` });
        break;
      case 'CreateTopic':
        events.push({
          ...base,
          kind: 'topic-created',
          topic: record.name,
          text: `topic ${record.name} created: ${record.partitions.length} partitions, replication factor ${record.partitions[0]?.replicas.length ?? 0}`,
        });
        break;
      case 'DeleteTopic':
        events.push({ ...base, kind: 'topic-deleted', topic: record.name, text: `topic ${record.name} deleted` });
        break;
      case 'CreatePartitions':
        events.push({
          ...base,
          kind: 'partitions-created',
          topic: record.topic,
          text: `topic ${record.topic}: ${record.partitions.length} partition${record.partitions.length === 1 ? '' : 's'} added (${record.partitions.map((p) => `P${p.partition}`).join(' ')})`,
        });
        break;
      case 'PartitionChange': {
        if (before === undefined) break;
        const where = { topic: record.topic, partition: record.partition };
        const name = `${record.topic}-${record.partition}`;
        if (before.leader !== record.leader) {
          if (record.leader === NO_LEADER) {
            events.push({
              ...base,
              ...where,
              kind: 'partition-offline',
              brokerId: before.leader,
              text: `${name}: offline, leader B${before.leader} lost and no live in-sync replica (epoch ${record.leaderEpoch})`,
            });
          } else {
            const from = before.leader === NO_LEADER ? 'none' : `B${before.leader}`;
            events.push({
              ...base,
              ...where,
              kind: 'leader-changed',
              brokerId: record.leader,
              text: `${name}: leader ${from} -> B${record.leader} (epoch ${record.leaderEpoch})`,
            });
          }
        }
        const left = before.isr.filter((id) => !record.isr.includes(id));
        const joined = record.isr.filter((id) => !before.isr.includes(id));
        const isrs = `ISR ${before.isr.join(',')} -> ${record.isr.join(',')}`;
        if (left.length > 0) {
          events.push({
            ...base,
            ...where,
            kind: 'isr-shrunk',
            brokerId: left[0]!,
            brokers: left,
            text: `${name}: ISR shrank, ${left.map((id) => `B${id}`).join(', ')} left (${isrs})`,
          });
        }
        if (joined.length > 0) {
          // A replica a reassignment added joins the ISR for the first time; any other rejoins it.
          const verb = joined.every((id) => before.addingReplicas.includes(id)) ? 'joined' : 'rejoined';
          events.push({
            ...base,
            ...where,
            kind: 'isr-expanded',
            brokerId: joined[0]!,
            brokers: joined,
            text: `${name}: ISR expanded, ${joined.map((id) => `B${id}`).join(', ')} ${verb} (${isrs})`,
          });
        }
        events.push(...reassignmentEvents(base, where, name, before, record));
        break;
      }
      default:
        break;
    }
  });
  return events;
}

/** A reassignment's start, completion or cancel (KIP-455), from a PartitionChange that sets its lists. */
function reassignmentEvents(
  base: { timeMs: number; version: number },
  where: { topic: string; partition: number },
  name: string,
  before: NonNullable<AppliedRecord['before']>,
  record: Extract<AppliedRecord['record'], { type: 'PartitionChange' }>,
): ConsoleEvent[] {
  if (record.addingReplicas === undefined && record.removingReplicas === undefined) return [];
  const adding = record.addingReplicas ?? before.addingReplicas;
  const removing = record.removingReplicas ?? before.removingReplicas;
  const wasMoving = before.addingReplicas.length > 0 || before.removingReplicas.length > 0;
  const moving = adding.length > 0 || removing.length > 0;
  const ids = (list: readonly BrokerId[]) => (list.length === 0 ? 'none' : list.map((id) => `B${id}`).join(', '));
  const replicas = record.replicas ?? before.replicas;
  if (!wasMoving && moving) {
    const involved = [...adding, ...removing];
    const target = replicas.filter((r) => !removing.includes(r));
    return [
      {
        ...base,
        ...where,
        kind: 'reassignment-started',
        brokerId: involved[0]!,
        brokers: involved,
        text: `${name}: reassignment to [${target.join(',')}] started, adding ${ids(adding)}, removing ${ids(removing)}`,
      },
    ];
  }
  if (wasMoving && !moving) {
    const target = before.replicas.filter((r) => !before.removingReplicas.includes(r));
    const completed = replicas.length === target.length && replicas.every((r) => target.includes(r));
    const involved = [...before.addingReplicas, ...before.removingReplicas];
    return [
      {
        ...base,
        ...where,
        kind: completed ? 'reassignment-completed' : 'reassignment-cancelled',
        ...(involved.length > 0 ? { brokerId: involved[0]!, brokers: involved } : {}),
        text: completed
          ? `${name}: reassignment completed, replicas [${replicas.join(',')}] (added ${ids(before.addingReplicas)}, removed ${ids(before.removingReplicas)})`
          : `${name}: reassignment cancelled, replicas back to [${replicas.join(',')}]`,
      },
    ];
  }
  return [];
}
