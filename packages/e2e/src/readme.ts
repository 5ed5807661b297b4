// The README's shell walkthroughs as data (issue 17 item 7, docs that cannot rot): the fenced
// `sh` blocks under a `## ` heading, line by line, and the plan that pairs each line with what its
// output must show. Pure: the docs tests run the plan against a cluster, and a unit test checks
// without one that every expectation still finds its command in README.md.

import { readFileSync } from 'node:fs';

/** One command line of a README block, as a shell gets it (its comment included). */
export interface ReadmeLine {
  /** 1-based line number in README.md, for messages that name the line. */
  lineNo: number;
  /** The line exactly as written. */
  text: string;
  /** The command without its trailing `# comment`, spaces collapsed: what expectations match. */
  command: string;
}

/** README.md at the repository root. */
export const README_PATH = new URL('../../../README.md', import.meta.url);

export function readReadme(): string {
  return readFileSync(README_PATH, 'utf8');
}

/**
 * The command lines of every fenced `sh` block in the section under `## <heading>` (up to the
 * next `## `), in order. Blank lines and whole-line comments are skipped; a line ending in `\`
 * continues on the next, as in a shell. Throws when the section or its blocks are missing, so a
 * renamed heading fails loudly instead of testing nothing.
 */
export function readmeShellLines(markdown: string, heading: string): ReadmeLine[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${heading}`);
  if (start < 0) throw new Error(`README.md has no section '## ${heading}'`);
  const out: ReadmeLine[] = [];
  let inShell = false;
  let inOtherFence = false;
  let pending: { lineNo: number; text: string } | undefined;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!inShell && !inOtherFence && /^## /.test(line)) break;
    const fence = /^```\s*(\S*)\s*$/.exec(line);
    if (fence) {
      if (inShell) {
        if (pending) throw new Error(`README.md:${pending.lineNo}: a continued line ends the block`);
        inShell = false;
      } else if (inOtherFence) {
        inOtherFence = false;
      } else if (fence[1] === 'sh' || fence[1] === 'shell' || fence[1] === 'bash') {
        inShell = true;
      } else {
        inOtherFence = true;
      }
      continue;
    }
    if (!inShell) continue;
    const text = pending ? `${pending.text}\n${line}` : line;
    const lineNo = pending?.lineNo ?? i + 1;
    if (/\\$/.test(line)) {
      pending = { lineNo, text };
      continue;
    }
    pending = undefined;
    const command = commandOf(text);
    if (command === '') continue;
    out.push({ lineNo, text, command });
  }
  if (out.length === 0) throw new Error(`README.md's section '## ${heading}' has no fenced sh block with commands`);
  return out;
}

/**
 * A line without its comment (a `#` that starts a word outside quotes, as sh reads it), with
 * continuations joined and runs of blanks collapsed to one space.
 */
export function commandOf(text: string): string {
  let quote: string | undefined;
  let end = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
      continue;
    }
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      end = i;
      break;
    }
  }
  return text.slice(0, end).replace(/\\\n/g, ' ').replace(/\s+/g, ' ').trim();
}

/** What running one line produced. */
export interface StepOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * What one README command must do: keyed to the command by a pattern over its comment-less text,
 * so that changing the command in the README either still matches (and must still do this) or
 * no longer does (and the plan fails, naming the expectation).
 */
export interface StepExpectation<Ctx> {
  /** Matches the whole command (ReadmeLine.command). */
  command: RegExp;
  /** What the output must show, in words, for failure messages. */
  shows: string;
  /** What is wrong with the output, or undefined when it shows what it should. Exit 0 is checked before. */
  check?: (out: StepOutput, ctx: Ctx) => string | undefined | Promise<string | undefined>;
  /**
   * The README says the state this command shows comes after a while (a session timeout): the
   * command, which must only read, is run again until its output passes `check`, up to `withinMs`.
   */
  settles?: { withinMs: number; because: string };
  /** How long one run may take (a build, `compose up`); the runner's default otherwise. */
  timeoutMs?: number;
}

/** A README line and the expectation it matched, if any. */
export interface PlannedStep<Ctx> {
  line: ReadmeLine;
  expectation?: StepExpectation<Ctx>;
}

/**
 * Pairs lines with expectations in order: each expectation takes the first line after the
 * previous match whose command it matches whole, so one command may appear twice with different
 * expectations (a table before and after a kill). Lines no expectation claims are still run
 * (they must exit 0). Every expectation must find its line: one that does not means the README
 * no longer has that command where the walkthrough needs it, which is an error.
 */
export function planSteps<Ctx>(
  lines: readonly ReadmeLine[],
  expectations: readonly StepExpectation<Ctx>[],
): { steps: PlannedStep<Ctx>[]; unmatched: string[] } {
  const steps: PlannedStep<Ctx>[] = lines.map((line) => ({ line }));
  const unmatched: string[] = [];
  let from = 0;
  for (const expectation of expectations) {
    const at = steps.findIndex((s, i) => i >= from && wholeMatch(expectation.command, s.line.command));
    if (at < 0) {
      const after = from > 0 ? ` after README.md:${steps[from - 1]!.line.lineNo}` : '';
      unmatched.push(`no line${after} matches ${expectation.command} (${expectation.shows})`);
      continue;
    }
    steps[at]!.expectation = expectation;
    from = at + 1;
  }
  return { steps, unmatched };
}

function wholeMatch(pattern: RegExp, command: string): boolean {
  const match = pattern.exec(command);
  return match !== null && match.index === 0 && match[0].length === command.length;
}
