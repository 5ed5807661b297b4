// The replication throttle of a reassignment, set and removed as Kafka's kafka-reassign-partitions
// does it (KIP-73): `execute --throttle RATE` sets, per topic of the plan,
// `leader.replication.throttled.replicas` to the current replicas of the moving partitions (the
// leaders they copy from) and `follower.replication.throttled.replicas` to the replicas being
// added, and on every broker named there the rates `leader.replication.throttled.rate` and
// `follower.replication.throttled.rate`. Lists already set on a topic (another reassignment of it
// still running) are extended, not replaced. Lists that would not fit in one admin request
// (THROTTLE_LISTS_CHARS_MAX, a plan moving thousands of a topic's partitions) become '*', every
// replica of the topic: the brokers never hold back a replica in the ISR, so that slows only the
// replicas copying from outside it — the moving ones, and any follower that fell out meanwhile.
//
// Removing it (`reassign status` once the moves are done, `reassign cancel`, `brokers
// decommission` when it finishes: Kafka's `--verify`) is decided from the cluster alone, so any
// machine can do it: a topic with throttled-replica lists and no partition being reassigned gets
// both lists deleted, and a broker named in those lists loses both rates unless a topic still
// reassigning names it too. A rate on a broker that no list names (`tributary brokers set-config
// 4 follower.replication.throttled.rate=1024`, the README's way to make a follower lag) is never
// touched. Pure: configs and assignments in, the changes to make out.

import { parseThrottledReplicas } from '@tributary/protocol';
import type { PlanEntry } from './reassign-plan.ts';

export const LEADER_LIST = 'leader.replication.throttled.replicas';
export const FOLLOWER_LIST = 'follower.replication.throttled.replicas';
export const LEADER_RATE = 'leader.replication.throttled.rate';
export const FOLLOWER_RATE = 'follower.replication.throttled.rate';

/** Both lists of one topic together, in characters, beyond which they become '*' (the admin body limit is 64 KiB). */
export const THROTTLE_LISTS_CHARS_MAX = 40_000;

export interface ThrottleTopic {
  name: string;
  /** The topic's current lists ('' for none, '*' for every replica). */
  leaderList: string;
  followerList: string;
  partitions: readonly { partition: number; replicas: readonly number[] }[];
}

export interface ThrottleSettings {
  /** New values of the two lists, per topic of the plan. */
  topics: { topic: string; leaderList: string; followerList: string }[];
  /** Brokers that get both rates. */
  brokers: number[];
}

/** What `execute --throttle` sets for the entries it starts. */
export function throttleSettings(entries: readonly PlanEntry[], topics: readonly ThrottleTopic[]): ThrottleSettings {
  const byTopic = new Map<string, { leader: Set<string>; follower: Set<string> }>();
  const brokers = new Set<number>();
  for (const e of entries) {
    const topic = topics.find((t) => t.name === e.topic);
    const current = topic?.partitions.find((p) => p.partition === e.partition)?.replicas ?? [];
    let lists = byTopic.get(e.topic);
    if (lists === undefined) {
      lists = { leader: new Set(pairs(topic?.leaderList)), follower: new Set(pairs(topic?.followerList)) };
      byTopic.set(e.topic, lists);
    }
    for (const b of current) lists.leader.add(`${e.partition}:${b}`);
    for (const b of e.replicas) if (!current.includes(b)) lists.follower.add(`${e.partition}:${b}`);
    for (const b of [...current, ...e.replicas]) brokers.add(b);
  }
  return {
    topics: [...byTopic.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([topic, lists]) => {
        const t = topics.find((x) => x.name === topic);
        const leaderList = t?.leaderList.trim() === '*' ? '*' : formatPairs(lists.leader);
        const followerList = t?.followerList.trim() === '*' ? '*' : formatPairs(lists.follower);
        if (leaderList.length + followerList.length > THROTTLE_LISTS_CHARS_MAX) return { topic, leaderList: '*', followerList: '*' };
        return { topic, leaderList, followerList };
      }),
    brokers: [...brokers].sort((a, b) => a - b),
  };
}

export interface ThrottleCleanup {
  /** Topics whose two lists are deleted. */
  topics: string[];
  /** Brokers whose two rates are deleted. */
  brokers: number[];
}

/** What is removed once no partition of a throttled topic is being reassigned (see the file comment). */
export function throttleCleanup(topics: readonly ThrottleTopic[], reassigning: readonly { topic: string }[]): ThrottleCleanup {
  const busy = new Set(reassigning.map((r) => r.topic));
  const throttled = topics.filter((t) => t.leaderList.trim() !== '' || t.followerList.trim() !== '');
  const done = throttled.filter((t) => !busy.has(t.name));
  const stillNamed = new Set<number>();
  for (const t of throttled.filter((x) => busy.has(x.name))) for (const b of namedBrokers(t)) stillNamed.add(b);
  const freed = new Set<number>();
  for (const t of done) for (const b of namedBrokers(t)) if (!stillNamed.has(b)) freed.add(b);
  return { topics: done.map((t) => t.name).sort(), brokers: [...freed].sort((a, b) => a - b) };
}

/** Brokers a topic's lists name; '*' names every broker holding a replica of it. */
function namedBrokers(t: ThrottleTopic): number[] {
  const out = new Set<number>();
  for (const list of [t.leaderList, t.followerList]) {
    const parsed = parseThrottledReplicas(list);
    if (parsed.all) for (const p of t.partitions) for (const b of p.replicas) out.add(b);
    for (const p of parsed.pairs) out.add(p.brokerId);
  }
  return [...out];
}

function pairs(list: string | undefined): string[] {
  return parseThrottledReplicas(list).pairs.map((p) => `${p.partition}:${p.brokerId}`);
}

/** Canonical order: by partition, then broker. */
function formatPairs(set: ReadonlySet<string>): string {
  return [...set]
    .map((s) => s.split(':').map(Number) as [number, number])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map(([p, b]) => `${p}:${b}`)
    .join(',');
}
