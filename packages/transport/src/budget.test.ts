import { describe, expect, it } from 'vitest';
import { ConnectionGate, RequestBytesBudget, type BytesTicket } from './budget.ts';

describe('ConnectionGate', () => {
  it('admits up to connectionsMax, refuses past it, and admits again once one closes', () => {
    const gate = new ConnectionGate(2);
    expect([gate.tryOpen(), gate.tryOpen(), gate.tryOpen()]).toEqual([true, true, false]);
    expect({ open: gate.open, refused: gate.refused }).toEqual({ open: 2, refused: 1 });
    gate.close();
    expect(gate.tryOpen()).toBe(true);
    expect(() => new ConnectionGate(0)).toThrow(/connectionsMax/);
  });

  it('treats a close without an open connection as a bug', () => {
    expect(() => new ConnectionGate(1).close()).toThrow(/without an open connection/);
  });
});

/** Steps of a scenario: claim (name, bytes), release, shrink; then who was admitted, in order. */
type Step = ['claim', string, number] | ['release', string] | ['shrink', string, number];

function run(bytesMax: number, steps: Step[]): { admitted: string[]; inFlight: number; waiting: number } {
  const budget = new RequestBytesBudget(bytesMax);
  const tickets = new Map<string, BytesTicket>();
  const admitted: string[] = [];
  for (const step of steps) {
    if (step[0] === 'claim')
      tickets.set(
        step[1],
        budget.acquire(step[2], () => admitted.push(step[1])),
      );
    else if (step[0] === 'release') tickets.get(step[1])!.release();
    else tickets.get(step[1])!.shrinkTo(step[2]);
  }
  return { admitted, inFlight: budget.inFlight, waiting: budget.waiting };
}

describe('RequestBytesBudget', () => {
  it.each<[string, number, Step[], { admitted: string[]; inFlight: number; waiting: number }]>([
    [
      'claims that fit are admitted at once',
      100,
      [
        ['claim', 'a', 40],
        ['claim', 'b', 60],
      ],
      { admitted: ['a', 'b'], inFlight: 100, waiting: 0 },
    ],
    [
      'a claim that does not fit waits',
      100,
      [
        ['claim', 'a', 60],
        ['claim', 'b', 60],
      ],
      { admitted: ['a'], inFlight: 60, waiting: 1 },
    ],
    [
      'a release admits the waiter',
      100,
      [
        ['claim', 'a', 60],
        ['claim', 'b', 60],
        ['release', 'a'],
      ],
      { admitted: ['a', 'b'], inFlight: 60, waiting: 0 },
    ],
    [
      'FIFO: a small claim does not overtake a waiting large one',
      100,
      [
        ['claim', 'a', 60],
        ['claim', 'big', 100],
        ['claim', 'small', 10],
      ],
      { admitted: ['a'], inFlight: 60, waiting: 2 },
    ],
    [
      'one release admits every waiter that then fits, in order',
      100,
      [
        ['claim', 'a', 100],
        ['claim', 'b', 30],
        ['claim', 'c', 30],
        ['claim', 'd', 50],
        ['release', 'a'],
      ],
      { admitted: ['a', 'b', 'c'], inFlight: 60, waiting: 1 },
    ],
    [
      'a waiter that leaves unblocks those behind it',
      100,
      [
        ['claim', 'a', 60],
        ['claim', 'big', 100],
        ['claim', 'small', 10],
        ['release', 'big'],
      ],
      { admitted: ['a', 'small'], inFlight: 70, waiting: 0 },
    ],
    [
      'release is idempotent',
      100,
      [
        ['claim', 'a', 60],
        ['release', 'a'],
        ['release', 'a'],
        ['claim', 'b', 100],
      ],
      { admitted: ['a', 'b'], inFlight: 100, waiting: 0 },
    ],
    [
      'shrinking a streamed claim frees the rest at once',
      100,
      [
        ['claim', 'a', 100],
        ['claim', 'b', 50],
        ['shrink', 'a', 20],
      ],
      { admitted: ['a', 'b'], inFlight: 70, waiting: 0 },
    ],
    [
      'shrinking a waiting claim does nothing',
      100,
      [
        ['claim', 'a', 100],
        ['claim', 'b', 50],
        ['shrink', 'b', 1],
        ['claim', 'c', 1],
      ],
      { admitted: ['a'], inFlight: 100, waiting: 2 },
    ],
    [
      'a zero-byte claim is admitted when no one waits',
      10,
      [
        ['claim', 'a', 10],
        ['claim', 'z', 0],
      ],
      { admitted: ['a', 'z'], inFlight: 10, waiting: 0 },
    ],
  ])('%s', (_name, bytesMax, steps, expected) => {
    expect(run(bytesMax, steps)).toEqual(expected);
  });

  it('refuses a claim larger than the whole budget (it could never be admitted)', () => {
    expect(() => new RequestBytesBudget(100).acquire(101, () => {})).toThrow(/can never fit requestBytesInFlightMax 100/);
  });

  it('stays consistent when an admitted request releases from inside its admission', () => {
    const budget = new RequestBytesBudget(10);
    const first = budget.acquire(10, () => {});
    const order: string[] = [];
    const second: BytesTicket = budget.acquire(5, () => {
      order.push('second');
      second.release();
    });
    budget.acquire(5, () => order.push('third'));
    budget.acquire(5, () => order.push('fourth'));
    first.release();
    expect(order).toEqual(['second', 'third', 'fourth']);
    expect(budget.inFlight).toBe(10);
  });

  it('keeps its queue bounded by the waiters, however many came and went', () => {
    const budget = new RequestBytesBudget(1);
    let blocker = budget.acquire(1, () => {});
    for (let i = 0; i < 5000; i++) {
      const next = budget.acquire(1, () => {});
      blocker.release();
      blocker = next;
    }
    expect({ inFlight: budget.inFlight, waiting: budget.waiting }).toEqual({ inFlight: 1, waiting: 0 });
  });
});
