import { describe, expect, it } from 'vitest';
import { formatLogLine } from './log-view.ts';

// 2026-01-01T12:00:03.250Z
const T = Date.UTC(2026, 0, 1, 12, 0, 3, 250);
const plain = { color: false, timeZone: 'UTC' };

function controller(msg: string, fields: Record<string, unknown>, level = 30): string {
  return JSON.stringify({ level, time: T, role: 'controller', pid: 4242, module: 'controller', ...fields, msg });
}

function broker(id: number, msg: string, fields: Record<string, unknown>, level = 30): string {
  return JSON.stringify({ level, time: T, role: 'broker', brokerId: id, rack: id < 3 ? 'rack-1' : 'rack-2', module: 'replicas', ...fields, msg });
}

describe('formatLogLine', () => {
  it.each([
    [
      'controller',
      controller('leader changed', {
        topic: 'demo',
        partition: 0,
        leader: 3,
        leaderEpoch: 1,
        partitionEpoch: 2,
        isr: [3, 1],
        metadataVersion: 40,
        previousLeader: 0,
      }),
      '12:00:03.250 controller * leader changed: demo-0: B0 -> B3, epoch 1, ISR [3,1]',
    ],
    [
      'controller',
      controller('isr shrunk', {
        topic: 'demo',
        partition: 1,
        leader: 3,
        leaderEpoch: 0,
        partitionEpoch: 1,
        isr: [3, 1],
        metadataVersion: 41,
        previousIsr: [3, 1, 4],
      }),
      '12:00:03.250 controller * isr shrunk: demo-1: ISR [3,1,4] -> [3,1] (B4 out)',
    ],
    [
      'controller',
      controller('isr expanded', {
        topic: 'demo',
        partition: 1,
        leader: 3,
        leaderEpoch: 0,
        partitionEpoch: 2,
        isr: [3, 1, 4],
        metadataVersion: 42,
        previousIsr: [3, 1],
      }),
      '12:00:03.250 controller * isr expanded: demo-1: ISR [3,1] -> [3,1,4] (B4 back in)',
    ],
    [
      'controller',
      controller('broker fenced', { brokerId: 0, brokerEpoch: 0, metadataVersion: 39 }),
      '12:00:03.250 controller * broker fenced: B0 (broker epoch 0): it leads nothing until it is back',
    ],
    [
      'controller',
      controller('broker registered', {
        brokerId: 0,
        brokerEpoch: 5,
        rack: 'rack-1',
        incarnationId: 'x',
        internal: { host: '127.0.0.1', port: 19092 },
        external: { host: '127.0.0.1', port: 19092 },
        metadataVersion: 2,
      }),
      '12:00:03.250 controller * broker registered: B0 (rack-1) at 127.0.0.1:19092, broker epoch 5',
    ],
    [
      'controller',
      controller('partition offline: no live in-sync replica', { topic: 'demo', partition: 7, leader: -1, leaderEpoch: 2, isr: [3], previousLeader: 3 }, 40),
      '12:00:03.250 controller * partition offline: demo-7: no live in-sync replica (was led by B3), epoch 2',
    ],
    [
      'controller',
      controller(
        'unclean leader election: records only the old in-sync replicas held may be lost',
        { topic: 'demo', partition: 7, leader: 4, leaderEpoch: 3, isr: [4], previousLeader: 3, previousIsr: [3] },
        40,
      ),
      '12:00:03.250 controller * unclean leader election: demo-7: B3 -> B4, outside the old ISR [3]: records only it held may be lost',
    ],
    [
      'controller',
      controller('topic created', {
        topic: 'demo',
        topicId: 'abc',
        partitions: 2,
        replicas: [
          [0, 3, 1],
          [3, 1, 4],
        ],
        configs: { 'min.insync.replicas': 2 },
        metadataVersion: 8,
      }),
      '12:00:03.250 controller * topic created: demo: 2 partitions, replication factor 3',
    ],
    [
      'broker-3',
      broker(3, 'became leader', {
        topic: 'demo',
        partition: 0,
        leaderEpoch: 1,
        partitionEpoch: 2,
        isr: [3, 1],
        logEndOffset: 120,
        highWatermark: 120,
        wasLeader: false,
      }),
      '12:00:03.250 broker-3   * became leader: demo-0, epoch 1, ISR [3,1]',
    ],
    [
      'broker-1',
      broker(1, 'became follower', {
        topic: 'demo',
        partition: 0,
        leaderEpoch: 1,
        leader: 3,
        partitionEpoch: 2,
        logEndOffset: 120,
        highWatermark: 120,
        wasLeader: false,
      }),
      '12:00:03.250 broker-1   * became follower: demo-0 of B3, epoch 1',
    ],
    [
      'broker-3',
      broker(3, 'isr changed', { topic: 'demo', partition: 1, leaderEpoch: 0, partitionEpoch: 1, isr: [3, 1], added: [], removed: [4] }),
      '12:00:03.250 broker-3   * isr changed: demo-1: ISR [3,1] (B4 out)',
    ],
    [
      'broker-0',
      broker(0, 'truncating diverged log', { topic: 'demo', partition: 0, leaderEpoch: 2, divergingEpoch: 0, endOffset: 100, from: 130, to: 100 }),
      '12:00:03.250 broker-0   * truncating diverged log: demo-0: log end 130 -> 100 (diverged from the leader in epoch 0)',
    ],
  ])('%s: an event stands out, marked with * and said in words', (name, line, expected) => {
    expect(formatLogLine(name, line, plain)).toBe(expected);
  });

  it("shortens a routine line: no level, pid, role, module, or the broker's own id and rack; topic-partition as demo-0", () => {
    const line = broker(4, 'opened partition', { topic: 'demo', partition: 1, logEndOffset: 0, highWatermark: 0 });
    expect(formatLogLine('broker-4', line, plain)).toBe('12:00:03.250 broker-4     opened partition  demo-1 logEndOffset=0 highWatermark=0');
    const listening = JSON.stringify({
      level: 30,
      time: T,
      role: 'broker',
      brokerId: 0,
      rack: 'rack-1',
      internal: { host: '127.0.0.1', port: 19092 },
      controller: { host: '127.0.0.1', port: 19090 },
      dataDir: '/tmp/a b/broker-0',
      msg: 'broker listening',
    });
    expect(formatLogLine('broker-0', listening, plain)).toBe(
      '12:00:03.250 broker-0     broker listening  internal=127.0.0.1:19092 controller=127.0.0.1:19090 dataDir="/tmp/a b/broker-0"',
    );
    // On the controller's lines brokerId is the broker the line is about: kept.
    expect(formatLogLine('controller', controller('controlled shutdown', { brokerId: 2, leaderships: 3 }), plain)).toBe(
      '12:00:03.250 controller   controlled shutdown  brokerId=2 leaderships=3',
    );
  });

  it('cuts a long routine line; the whole record stays in the log file', () => {
    const line = broker(0, 'something big', { blob: 'x'.repeat(400) });
    // 120 characters of fields, the last one an ellipsis.
    expect(formatLogLine('broker-0', line, plain)).toBe(`12:00:03.250 broker-0     something big  blob=${'x'.repeat(114)}…`);
  });

  it('marks warnings and errors with ! and the level, the error by its message only', () => {
    const err = { type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:19092\n    at stack…', code: 'BROKER_NOT_AVAILABLE', stack: 'Error: …' };
    expect(formatLogLine('broker-3', broker(3, 'replica fetch failed', { module: 'fetcher', leader: 0, err }, 40), plain)).toBe(
      '12:00:03.250 broker-3   ! WARN replica fetch failed  leader=0 err="BROKER_NOT_AVAILABLE: connect ECONNREFUSED 127.0.0.1:19092"',
    );
    expect(formatLogLine('controller', controller('metadata log append failed; refusing further changes', {}, 50), plain)).toBe(
      '12:00:03.250 controller ! ERROR metadata log append failed; refusing further changes',
    );
  });

  it('passes a line that is not pino JSON through under the process name', () => {
    expect(formatLogLine('broker-2', 'TypeError: x is not a function', plain)).toBe('             broker-2     TypeError: x is not a function');
    expect(formatLogLine('broker-2', '{not json', plain)).toBe('             broker-2     {not json');
    expect(formatLogLine('broker-2', '[1,2]', plain)).toBe('             broker-2     [1,2]');
  });

  it('colours only when asked: events bold in their tone, routine fields dim', () => {
    const line = controller('broker fenced', { brokerId: 0, brokerEpoch: 0 });
    const coloured = formatLogLine('controller', line, { color: true, timeZone: 'UTC' });
    expect(coloured).toContain('\x1b[1m\x1b[31mbroker fenced: B0');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC
    expect(coloured.replace(/\x1b\[\d+m/g, '')).toBe(formatLogLine('controller', line, plain));
    const expanded = formatLogLine('controller', controller('isr expanded', { topic: 'demo', partition: 1, isr: [3, 1, 4], previousIsr: [3, 1] }), {
      color: true,
      timeZone: 'UTC',
    });
    expect(expanded).toContain('\x1b[32m');
    expect(formatLogLine('broker-4', broker(4, 'opened log', { dir: '/d' }), plain)).not.toContain('\x1b[');
  });
});
