// The foreground view of the processes' logs (`tributary local up`, `pnpm start`): one short,
// readable line per pino JSON line, prefixed with the process's name, the cluster's events —
// leaders changing, ISRs shrinking and growing, brokers fenced and back — marked so they stand
// out among the routine lines. Pure: the launcher hands over the lines, the log files keep the
// JSON (and `--log-format json` prints it unchanged).

import { formatTime } from './watch-view.ts';

export interface LogViewOptions {
  /** ANSI colours (only on a terminal). */
  color: boolean;
  /** Time zone for timestamps; default the machine's. Tests pass 'UTC'. */
  timeZone?: string;
}

/** How an event reads: bad news (red), good news (green), or a change (yellow). */
type Tone = 'bad' | 'good' | 'change';

type Fields = Record<string, unknown>;

interface EventStyle {
  tone: Tone;
  /** A short name for the event (some messages are a sentence). */
  label?: string;
  summary(f: Fields): string;
}

const NAME_WIDTH = 10;
/** The fields of a routine line are cut at this many characters: the full record is in the process's log file. */
const FIELDS_SHOWN_MAX = 120;
/** Fields every line carries, which the prefix already says or which only a machine needs. */
const BASE_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'role', 'msg', 'module']);
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', cyan: '\x1b[36m' };
const TONE_COLOR: Record<Tone, string> = { bad: ANSI.red, good: ANSI.green, change: ANSI.yellow };

// The events, by the message that logs them: the controller's (cluster-controller.ts
// logApplied) and the brokers' (partition.ts). A message not listed here is a routine line.
const CONTROLLER_EVENTS: Record<string, EventStyle> = {
  'leader changed': { tone: 'change', summary: (f) => `${tp(f)}: B${f.previousLeader} -> B${f.leader}, epoch ${f.leaderEpoch}, ISR ${ids(f.isr)}` },
  'partition offline: no live in-sync replica': {
    tone: 'bad',
    label: 'partition offline',
    summary: (f) => `${tp(f)}: no live in-sync replica (was led by B${f.previousLeader}), epoch ${f.leaderEpoch}`,
  },
  'unclean leader election: records only the old in-sync replicas held may be lost': {
    tone: 'bad',
    label: 'unclean leader election',
    summary: (f) => `${tp(f)}: B${f.previousLeader} -> B${f.leader}, outside the old ISR ${ids(f.previousIsr)}: records only it held may be lost`,
  },
  'isr shrunk': { tone: 'bad', summary: (f) => `${tp(f)}: ISR ${ids(f.previousIsr)} -> ${ids(f.isr)}${membership(f.previousIsr, f.isr)}` },
  'isr expanded': { tone: 'good', summary: (f) => `${tp(f)}: ISR ${ids(f.previousIsr)} -> ${ids(f.isr)}${membership(f.previousIsr, f.isr)}` },
  'isr changed': { tone: 'change', summary: (f) => `${tp(f)}: ISR ${ids(f.previousIsr)} -> ${ids(f.isr)}${membership(f.previousIsr, f.isr)}` },
  'broker registered': { tone: 'good', summary: (f) => `B${f.brokerId} (${f.rack}) at ${endpoint(f.external)}, broker epoch ${f.brokerEpoch}` },
  'broker fenced': { tone: 'bad', summary: (f) => `B${f.brokerId} (broker epoch ${f.brokerEpoch}): it leads nothing until it is back` },
  'broker unfenced': { tone: 'good', summary: (f) => `B${f.brokerId} is back` },
  'topic created': { tone: 'change', summary: (f) => `${f.topic}: ${f.partitions} partitions, replication factor ${replicationFactor(f.replicas)}` },
  'topic deleted': { tone: 'change', summary: (f) => `${f.topic}` },
};

const BROKER_EVENTS: Record<string, EventStyle> = {
  'became leader': { tone: 'change', summary: (f) => `${tp(f)}, epoch ${f.leaderEpoch}, ISR ${ids(f.isr)}` },
  'became follower': { tone: 'change', summary: (f) => `${tp(f)} of B${f.leader}, epoch ${f.leaderEpoch}` },
  'partition offline': { tone: 'bad', summary: (f) => `${tp(f)}, epoch ${f.leaderEpoch}: no leader` },
  'isr changed': { tone: 'change', summary: (f) => `${tp(f)}: ISR ${ids(f.isr)}${membership(undefined, f.isr, f.added, f.removed)}` },
  'truncating diverged log': { tone: 'bad', summary: (f) => `${tp(f)}: log end ${f.from} -> ${f.to} (diverged from the leader in epoch ${f.divergingEpoch})` },
};

/** One line of a process's output as the foreground shows it. Never throws. */
export function formatLogLine(name: string, line: string, options: LogViewOptions): string {
  const paint = (code: string, text: string) => (options.color ? `${code}${text}${ANSI.reset}` : text);
  const prefix = (time: string, mark: string) => `${paint(ANSI.dim, time)} ${paint(ANSI.cyan, name.padEnd(NAME_WIDTH))} ${mark}`;
  const record = parseRecord(line);
  // Not pino's JSON (a crash's stack trace on stderr, a Node warning): as it came.
  if (record === undefined) return `${prefix(' '.repeat(12), ' ')} ${line}`;
  const time = typeof record.time === 'number' ? formatTime(record.time, options.timeZone) : ' '.repeat(12);
  const msg = typeof record.msg === 'string' ? record.msg : '';
  const level = typeof record.level === 'number' ? record.level : 30;
  const events = record.role === 'controller' || name === 'controller' ? CONTROLLER_EVENTS : BROKER_EVENTS;
  const event = events[msg];
  if (event !== undefined) {
    const text = `${event.label ?? msg}: ${event.summary(record)}`;
    return `${prefix(time, paint(TONE_COLOR[event.tone], '*'))} ${paint(ANSI.bold + TONE_COLOR[event.tone], text)}`;
  }
  const levelName = LEVELS[level];
  const fields = routineFields(record, name);
  const shown = fields.length > FIELDS_SHOWN_MAX ? `${fields.slice(0, FIELDS_SHOWN_MAX - 1)}…` : fields;
  if (level >= 40) {
    const color = level >= 50 ? ANSI.red : ANSI.yellow;
    return `${prefix(time, paint(color, '!'))} ${paint(ANSI.bold + color, `${levelName} ${msg}`)}${shown ? `  ${shown}` : ''}`;
  }
  const head = levelName ? `${levelName} ${msg}` : msg;
  return `${prefix(time, ' ')} ${head}${shown ? `  ${paint(ANSI.dim, shown)}` : ''}`;
}

function parseRecord(line: string): Fields | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Fields) : undefined;
  } catch {
    return undefined;
  }
}

/** `key=value` for what a routine line carries beyond the prefix; topic-partition first, as `demo-3`. */
function routineFields(record: Fields, name: string): string {
  const parts: string[] = [];
  const isBroker = record.role === 'broker' || name.startsWith('broker-');
  if (typeof record.topic === 'string' && typeof record.partition === 'number') parts.push(tp(record));
  for (const [key, value] of Object.entries(record)) {
    if (BASE_FIELDS.has(key) || value === undefined) continue;
    if (parts.length > 0 && (key === 'topic' || key === 'partition') && typeof record.partition === 'number') continue;
    // A broker's own id and rack are in its name; on the controller's lines brokerId names the subject.
    if (isBroker && (key === 'brokerId' || key === 'rack')) continue;
    if (key === 'err') {
      parts.push(`err=${errorText(value)}`);
      continue;
    }
    parts.push(`${key}=${valueText(value)}`);
  }
  return parts.join(' ');
}

function valueText(value: unknown): string {
  if (Array.isArray(value) && value.every((v) => typeof v === 'number')) return value.length === 0 ? '[]' : value.join(',');
  if (isEndpoint(value)) return endpoint(value);
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

function errorText(value: unknown): string {
  if (value !== null && typeof value === 'object') {
    const err = value as { type?: unknown; code?: unknown; message?: unknown };
    const message = typeof err.message === 'string' ? err.message.split('\n')[0]! : JSON.stringify(value);
    return JSON.stringify(typeof err.code === 'string' ? `${err.code}: ${message}` : message);
  }
  return JSON.stringify(String(value));
}

function isEndpoint(value: unknown): value is { host: string; port: number } {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { host?: unknown }).host === 'string' &&
    typeof (value as { port?: unknown }).port === 'number' &&
    Object.keys(value).length === 2
  );
}

function endpoint(value: unknown): string {
  return isEndpoint(value) ? `${value.host}:${value.port}` : '?';
}

function tp(f: Fields): string {
  return `${f.topic}-${f.partition}`;
}

function ids(value: unknown): string {
  return Array.isArray(value) ? `[${value.join(',')}]` : '[?]';
}

function replicationFactor(replicas: unknown): string {
  return Array.isArray(replicas) && Array.isArray(replicas[0]) ? String(replicas[0].length) : '?';
}

/** ` (B4 out)`, ` (B4 back in)`: who left or joined, from the two ISRs or from added/removed. */
function membership(before: unknown, after: unknown, added?: unknown, removed?: unknown): string {
  const list = (v: unknown): number[] => (Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : []);
  const joined = added !== undefined ? list(added) : list(after).filter((id) => !list(before).includes(id));
  const left = removed !== undefined ? list(removed) : list(before).filter((id) => !list(after).includes(id));
  const words = [...left.map((id) => `B${id} out`), ...joined.map((id) => `B${id} back in`)];
  return words.length > 0 ? ` (${words.join(', ')})` : '';
}
