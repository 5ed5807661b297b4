import { describe, expect, it } from 'vitest';
import { checkPlan, parsePlan, planProblems, type ValidationCluster } from './reassign-validate.ts';

const cluster: ValidationCluster = {
  brokers: [0, 1, 2, 3, 4, 5, 6].map((id) => ({ id, alive: id !== 6 })),
  topics: [
    {
      name: 'demo',
      partitions: [
        [0, 3, 1],
        [3, 1, 4],
        [1, 4, 2],
      ].map((replicas, partition) => ({ partition, replicas })),
    },
  ],
  reassigning: [{ topic: 'demo', partition: 2, replicas: [5, 4, 2, 1], addingReplicas: [5], removingReplicas: [1] }],
};

describe('parsePlan', () => {
  it("reads Kafka's format, log_dirs and the extra keys of generate --json ignored", () => {
    const text = JSON.stringify({
      version: 1,
      partitions: [{ topic: 'demo', partition: 0, replicas: [0, 3, 6], log_dirs: ['any', 'any', 'any'] }],
      current: { version: 1, partitions: [] },
    });
    expect(parsePlan(text, 'plan.json')).toEqual([{ topic: 'demo', partition: 0, replicas: [0, 3, 6] }]);
  });

  it.each([
    ['not JSON', '{"version":1,', /plan.json is not JSON \(.*\); expected \{"version":1,"partitions"/],
    ['no partitions list', '{"version":1}', /plan.json has no "partitions" list/],
    ['another version', '{"version":2,"partitions":[]}', /plan.json has version 2; only version 1 is known/],
    [
      'bad entries, every one named',
      '{"partitions":[{"topic":"demo","partition":-1,"replicas":[0]},{"topic":"demo","partition":1,"replicas":"0,1"},7,{"partition":0}]}',
      /entry 1 \(demo\): "partition" must be an integer >= 0, got -1; entry 2 \(demo-1\): "replicas" must be a list of broker ids, got "0,1"; entry 3 is not an object; entry 4: "topic" must be a topic name, got undefined/,
    ],
  ])('refuses %s with INVALID_REQUEST', (_name, text, message) => {
    expect(() => parsePlan(text, 'plan.json')).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', message: expect.stringMatching(message) }));
  });
});

describe('planProblems', () => {
  it.each([
    [
      'an unknown broker',
      { topic: 'demo', partition: 0, replicas: [0, 3, 99] },
      'INVALID_REPLICA_ASSIGNMENT',
      /demo-0 names broker 99, not registered \(registered: 0, 1, 2, 3, 4, 5, 6\)/,
    ],
    ['a broker twice', { topic: 'demo', partition: 0, replicas: [0, 3, 3] }, 'INVALID_REPLICA_ASSIGNMENT', /demo-0 names broker 3 twice in \[0,3,3\]/],
    ['an empty list', { topic: 'demo', partition: 0, replicas: [] }, 'INVALID_REPLICA_ASSIGNMENT', /demo-0 has an empty replica list/],
    [
      'a partition being reassigned',
      { topic: 'demo', partition: 2, replicas: [1, 4, 2] },
      'REASSIGNMENT_IN_PROGRESS',
      /demo-2 is already being reassigned to \[5,4,2\] \(adding \[5\]\); wait for it \(tributary reassign status\) or cancel it \(tributary reassign cancel\) first/,
    ],
    ['an unknown topic', { topic: 'nope', partition: 0, replicas: [0] }, 'UNKNOWN_TOPIC_OR_PARTITION', /topic 'nope' does not exist/],
    ['an unknown partition', { topic: 'demo', partition: 9, replicas: [0] }, 'UNKNOWN_TOPIC_OR_PARTITION', /demo-9 does not exist: 'demo' has partitions 0-2/],
  ])('%s', (_name, entry, code, message) => {
    const problems = planProblems([entry], cluster);
    expect(problems).toEqual([expect.objectContaining({ code, message: expect.stringMatching(message) })]);
  });

  it('more replicas than brokers: the replication factor first (a longer list also names an unknown broker or one twice)', () => {
    expect(planProblems([{ topic: 'demo', partition: 1, replicas: [0, 1, 2, 3, 4, 5, 6, 7] }], cluster).map((p) => [p.code, p.message])).toEqual([
      ['INVALID_REPLICATION_FACTOR', 'demo-1 asks for 8 replicas but only 7 brokers are registered'],
      ['INVALID_REPLICA_ASSIGNMENT', 'demo-1 names broker 7, not registered (registered: 0, 1, 2, 3, 4, 5, 6)'],
    ]);
  });

  it('names the same partition given twice, and every problem of a plan at once', () => {
    const problems = planProblems(
      [
        { topic: 'demo', partition: 0, replicas: [0, 3, 6] },
        { topic: 'demo', partition: 0, replicas: [0, 3, 1] },
        { topic: 'demo', partition: 1, replicas: [3, 1, 99, 1] },
      ],
      cluster,
    );
    expect(problems.map((p) => [p.where, p.code])).toEqual([
      ['demo-0', 'INVALID_REQUEST'],
      ['demo-1', 'INVALID_REPLICA_ASSIGNMENT'],
      ['demo-1', 'INVALID_REPLICA_ASSIGNMENT'],
    ]);
  });
});

describe('checkPlan', () => {
  it('refuses the whole plan when any entry is bad, naming every problem and the first code', () => {
    expect(() =>
      checkPlan(
        [
          { topic: 'demo', partition: 0, replicas: [0, 3, 6] },
          { topic: 'demo', partition: 1, replicas: [3, 1, 99] },
          { topic: 'demo', partition: 2, replicas: [1, 4, 2] },
        ],
        cluster,
        'plan.json',
      ),
    ).toThrow(
      expect.objectContaining({
        code: 'INVALID_REPLICA_ASSIGNMENT',
        message: expect.stringMatching(/^plan.json: 2 problems, nothing was changed: demo-1 names broker 99.*; demo-2 is already being reassigned/),
      }),
    );
  });

  it('splits a good plan into what to start and what is in place already, with notes', () => {
    expect(
      checkPlan(
        [
          { topic: 'demo', partition: 0, replicas: [0, 3, 6] },
          { topic: 'demo', partition: 1, replicas: [3, 1, 4] },
        ],
        cluster,
        'plan.json',
      ),
    ).toEqual({
      start: [{ topic: 'demo', partition: 0, replicas: [0, 3, 6] }],
      unchanged: [{ topic: 'demo', partition: 1, replicas: [3, 1, 4] }],
      notes: ['demo-0: broker 6 is fenced; its copy starts when it is back'],
    });
    expect(checkPlan([{ topic: 'demo', partition: 1, replicas: [3, 1, 4, 5] }], cluster, 'plan.json').notes).toEqual(['demo-1: replication factor 3 -> 4']);
  });
});
