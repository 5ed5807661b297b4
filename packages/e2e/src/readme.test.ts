import { describe, expect, it } from 'vitest';
import { commandOf, planSteps, readReadme, readmeShellLines, type StepExpectation } from './readme.ts';
import {
  DOCKER,
  DOCKER_HEADING,
  KAFKA_CLIENTS,
  KAFKA_CLIENTS_HEADING,
  START_COMMAND,
  TRY_IT,
  TRY_IT_HEADING,
  TWO_COMMANDS_HEADING,
  byBrokerRows,
} from './readme-walkthroughs.ts';

const MARKDOWN = [
  '# Title', // 1
  '', // 2
  '## Try it', // 3
  '', // 4
  'In a second terminal:', // 5
  '', // 6
  '```sh', // 7
  'pnpm a   --flag      # a comment', // 8
  '# a whole-line comment', // 9
  '', // 10
  "echo 'x # not a comment' | wc -c  # counts", // 11
  'long \\', // 12
  '  continued', // 13
  '```', // 14
  '', // 15
  '```', // 16
  'not shell', // 17
  '```', // 18
  '', // 19
  '```sh', // 20
  'pnpm b', // 21
  '```', // 22
  '', // 23
  '## Next', // 24
  '```sh', // 25
  'pnpm c', // 26
  '```', // 27
].join('\n');

describe('readmeShellLines', () => {
  it('takes the sh blocks of one section, by README line, with the comments off the commands', () => {
    expect(readmeShellLines(MARKDOWN, 'Try it')).toEqual([
      { lineNo: 8, text: 'pnpm a   --flag      # a comment', command: 'pnpm a --flag' },
      { lineNo: 11, text: "echo 'x # not a comment' | wc -c  # counts", command: "echo 'x # not a comment' | wc -c" },
      { lineNo: 12, text: 'long \\\n  continued', command: 'long continued' },
      { lineNo: 21, text: 'pnpm b', command: 'pnpm b' },
    ]);
    expect(readmeShellLines(MARKDOWN, 'Next').map((l) => l.command)).toEqual(['pnpm c']);
  });

  it('fails on a missing section or one without commands', () => {
    expect(() => readmeShellLines(MARKDOWN, 'Gone')).toThrow("no section '## Gone'");
    expect(() => readmeShellLines('## Empty\n\ntext\n', 'Empty')).toThrow('has no fenced sh block');
  });
});

describe('commandOf', () => {
  it.each([
    ['a # b', 'a'],
    ['a#b', 'a#b'],
    ['a "#b" # c', 'a "#b"'],
    ['a \\# b', 'a \\# b'],
    ['# all comment', ''],
  ])('%s -> %s', (text, command) => expect(commandOf(text)).toBe(command));
});

describe('planSteps', () => {
  const lines = readmeShellLines('## S\n```sh\nlist\nkill 0\nlist\nextra\n```\n', 'S');
  const e = (command: RegExp, shows: string): StepExpectation<unknown> => ({ command, shows });

  it('pairs expectations with lines in order, so one command can be expected twice', () => {
    const { steps, unmatched } = planSteps(lines, [e(/list/, 'before'), e(/kill \d/, 'kill'), e(/list/, 'after')]);
    expect(unmatched).toEqual([]);
    expect(steps.map((s) => [s.line.command, s.expectation?.shows])).toEqual([
      ['list', 'before'],
      ['kill 0', 'kill'],
      ['list', 'after'],
      ['extra', undefined],
    ]);
  });

  it('matches whole commands only, and reports every expectation without its line', () => {
    const { unmatched } = planSteps(lines, [e(/kill/, 'part of a command'), e(/list/, 'first'), e(/kill 0/, 'kill'), e(/kill 0/, 'a second kill')]);
    expect(unmatched).toEqual(['no line matches /kill/ (part of a command)', 'no line after README.md:4 matches /kill 0/ (a second kill)']);
  });
});

describe('byBrokerRows', () => {
  it('reads the table rows, spaces collapsed, without the legend', () => {
    const out = 'rack-1/B0 (fenced)  leads -   follows P0* P6*\nrack-2/B3           leads P0\n* = follower not in the ISR\n';
    expect(byBrokerRows(out)).toEqual(['rack-1/B0 (fenced) leads - follows P0* P6*', 'rack-2/B3 leads P0']);
  });
});

// The README as it stands: every expectation finds its command, so a README edit that changes a
// command the walkthrough tests fails here, without a cluster, as well as in `pnpm test:docs`.
describe('README.md', () => {
  const readme = readReadme();

  it('starts the cluster with `pnpm install && pnpm start`', () => {
    expect(readmeShellLines(readme, TWO_COMMANDS_HEADING).some((l) => START_COMMAND.test(l.command))).toBe(true);
  });

  it.each([
    [TRY_IT_HEADING, TRY_IT],
    [DOCKER_HEADING, DOCKER],
    [KAFKA_CLIENTS_HEADING, KAFKA_CLIENTS],
  ] as const)('"%s" has every command its walkthrough test expects, in order', (heading, table) => {
    const { steps, unmatched } = planSteps(readmeShellLines(readme, heading), table as readonly StepExpectation<unknown>[]);
    expect(unmatched).toEqual([]);
    expect(steps.length).toBeGreaterThanOrEqual(table.length);
  });
});
