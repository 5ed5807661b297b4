// The console's event timeline chart: one lane per broker in the seed's row order, the time a
// broker spent fenced drawn as a bar, and marks where it became a leader, lost a partition to
// offline, left or rejoined an ISR, was fenced or came back, and where a reassignment that adds or
// removes it started, completed or was cancelled. Pure: built from the console's
// event list (console-events.ts), the time and the current broker states, so what lands on which
// lane is tested without a browser. Marks of one kind on one lane within one bucket of time
// (a failover moves many partitions in one commit) become one mark with a count, so a busy
// second stays readable.

import type { BrokerId } from '@tributary/protocol';
import type { ConsoleEvent } from './console-events.ts';

export type TimelineMarkKind = 'leader' | 'offline' | 'isr-out' | 'isr-in' | 'fenced' | 'alive' | 'move-start' | 'move-done' | 'move-cancel';

export interface TimelineMark {
  kind: TimelineMarkKind;
  /** The first event's time. */
  timeMs: number;
  count: number;
  /** Partitions the events name, ascending. */
  partitions: number[];
  /** The events' sentences, the first `textsMax` of them. */
  texts: string[];
}

export interface TimelineSpan {
  fromMs: number;
  toMs: number;
  /** Still fenced at the end of the window. */
  open: boolean;
}

export interface TimelineLane {
  brokerId: BrokerId;
  label: string;
  fencedNow: boolean;
  fenced: TimelineSpan[];
  marks: TimelineMark[];
}

export interface TimelineView {
  startMs: number;
  endMs: number;
  /** Partition events of this topic only; broker events always. Undefined: every topic. */
  topic: string | undefined;
  lanes: TimelineLane[];
}

export interface TimelineOptions {
  nowMs: number;
  /** The start of the time axis (chartStartMs); events before it only matter for fenced bars. */
  startMs: number;
  /** Marks of a kind on a lane are merged within aligned buckets of this length. */
  bucketMs: number;
  /** Lanes, top to bottom (the seed's rack-alternated order), with the brokers' state now. */
  brokers: readonly { id: BrokerId; label: string; fenced: boolean }[];
  topic?: string;
  /** Sentences kept per mark (a tooltip, not a log). Default 8. */
  textsMax?: number;
}

export function consoleTimeline(events: readonly ConsoleEvent[], options: TimelineOptions): TimelineView {
  const { nowMs, startMs, bucketMs, topic } = options;
  const textsMax = options.textsMax ?? 8;
  const lanes = new Map<BrokerId, TimelineLane>(
    options.brokers.map((b) => [b.id, { brokerId: b.id, label: b.label, fencedNow: b.fenced, fenced: [], marks: [] }]),
  );
  const openSince = new Map<BrokerId, number>();
  const marks = new Map<string, TimelineMark>();

  for (const event of events) {
    // Fenced bars need the whole list: a broker fenced before the window is fenced at its start.
    if (event.brokerId !== undefined && lanes.has(event.brokerId)) {
      if (event.kind === 'broker-fenced' && !openSince.has(event.brokerId)) openSince.set(event.brokerId, event.timeMs);
      if (event.kind === 'broker-registered' || event.kind === 'broker-unfenced') {
        const from = openSince.get(event.brokerId);
        openSince.delete(event.brokerId);
        if (from !== undefined) addSpan(lanes.get(event.brokerId)!, from, event.timeMs, false, startMs, nowMs);
      }
    }
    if (event.timeMs < startMs || event.timeMs > nowMs) continue;
    if (topic !== undefined && event.topic !== undefined && event.topic !== topic) continue;
    for (const [brokerId, kind] of placements(event)) {
      if (!lanes.has(brokerId)) continue;
      const key = `${brokerId}/${kind}/${Math.floor(event.timeMs / bucketMs)}`;
      let mark = marks.get(key);
      if (mark === undefined) {
        mark = { kind, timeMs: event.timeMs, count: 0, partitions: [], texts: [] };
        marks.set(key, mark);
        lanes.get(brokerId)!.marks.push(mark);
      }
      mark.count++;
      if (event.partition !== undefined && !mark.partitions.includes(event.partition)) {
        mark.partitions.push(event.partition);
        mark.partitions.sort((a, b) => a - b);
      }
      if (mark.texts.length < textsMax) mark.texts.push(event.text);
    }
  }
  for (const lane of lanes.values()) {
    const from = openSince.get(lane.brokerId);
    // Fenced now with no fence event kept (fenced before the controller started, or the event
    // fell off the list): fenced for the whole window as far as anyone here knows.
    if (lane.fencedNow) addSpan(lane, from ?? startMs, nowMs, true, startMs, nowMs);
  }
  return { startMs, endMs: nowMs, topic, lanes: [...lanes.values()] };
}

/** Which lanes an event is drawn on, and as what. */
function placements(event: ConsoleEvent): [BrokerId, TimelineMarkKind][] {
  const on = (kind: TimelineMarkKind): [BrokerId, TimelineMarkKind][] => (event.brokerId === undefined ? [] : [[event.brokerId, kind]]);
  switch (event.kind) {
    case 'broker-registered':
    case 'broker-unfenced':
      return on('alive');
    case 'broker-fenced':
      return on('fenced');
    case 'leader-changed':
      return on('leader');
    case 'partition-offline':
      return on('offline');
    case 'isr-shrunk':
      return (event.brokers ?? (event.brokerId === undefined ? [] : [event.brokerId])).map((id) => [id, 'isr-out']);
    case 'isr-expanded':
      return (event.brokers ?? (event.brokerId === undefined ? [] : [event.brokerId])).map((id) => [id, 'isr-in']);
    case 'reassignment-started':
      return (event.brokers ?? []).map((id) => [id, 'move-start']);
    case 'reassignment-completed':
      return (event.brokers ?? []).map((id) => [id, 'move-done']);
    case 'reassignment-cancelled':
      return (event.brokers ?? []).map((id) => [id, 'move-cancel']);
    case 'topic-created':
    case 'topic-deleted':
    case 'partitions-created':
      return [];
  }
}

function addSpan(lane: TimelineLane, fromMs: number, toMs: number, open: boolean, startMs: number, endMs: number): void {
  if (toMs < startMs || fromMs > endMs) return;
  lane.fenced.push({ fromMs: Math.max(fromMs, startMs), toMs: Math.min(toMs, endMs), open });
}
