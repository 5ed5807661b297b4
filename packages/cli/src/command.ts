// What a command is: its words, its flags (node:util parseArgs), its help, and a run function.
// The dispatcher (cli.ts) finds commands in a plain table, so adding one — e.g. the launcher's
// `local …` commands — is one more entry in commands/index.ts.

import type { ParseArgsOptionsConfig } from 'node:util';
import type { Admin, ClientOptions } from '@tributary/client';

export interface CliIo {
  /** One line of standard output (no trailing newline). */
  out(line: string): void;
  /** One line of standard error. */
  err(line: string): void;
  /** Standard input, line by line (produce). */
  lines?: () => AsyncIterable<string>;
  env?: Record<string, string | undefined>;
  /** Aborted on Ctrl-C: long-running commands (consume) stop cleanly. */
  signal?: AbortSignal;
  /** Standard output is a terminal: `watch` redraws in place, else it prints frame after frame. */
  isTTY?: boolean;
}

export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CommandContext {
  /** Parsed flags, by long name (including the global ones). */
  values: FlagValues;
  /** Words after the command's path. */
  positionals: string[];
  io: CliIo;
  json: boolean;
  /** From --bootstrap, else $TRIBUTARY_BOOTSTRAP, else every broker of the local cluster (bootstrap.ts). */
  bootstrap: string[];
  /** Options for Producer/Consumer/Admin (bootstrap, no logger: the client is silent). */
  clientOptions: ClientOptions;
  /** A shared Admin client, created on first use and closed after the command. */
  admin(): Admin;
  /** Registers something to close after the command (clients it created). */
  onClose(close: () => Promise<void>): void;
  /** The command itself (for usage errors naming its --help). */
  command: Command;
}

export interface Command {
  /** The words that name it: ['topics', 'create']. */
  path: readonly string[];
  /** One line for the command list. */
  summary: string;
  /** Synopsis after `tributary`, e.g. `topics create NAME --partitions N --replication-factor R`. */
  usage: string;
  /** Flag help lines, `--name VALUE   what it does`. */
  flagHelp?: readonly string[];
  /** Extra paragraphs for --help (examples, notes). */
  details?: readonly string[];
  options?: ParseArgsOptionsConfig;
  /** Positional names, required ones first; `...` suffix = any number. */
  positionals?: readonly string[];
  /** Whether it talks to the cluster (for the bootstrap hint in errors). Default true. */
  usesCluster?: boolean;
  /** Exit code (default 0). */
  run(ctx: CommandContext): Promise<number | undefined>;
}

/** A usage error: exit code 2 with a pointer to --help. */
export class UsageError extends Error {
  readonly command: Command | undefined;
  constructor(message: string, command?: Command) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** Parses an integer flag or positional; a usage error names it otherwise. */
export function intArg(value: unknown, name: string, command: Command, min = Number.MIN_SAFE_INTEGER): number {
  if (typeof value !== 'string' || !/^-?\d+$/.test(value.trim())) {
    throw new UsageError(`${name} must be an integer, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`, command);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${name} must be an integer >= ${min}, got ${value}`, command);
  return n;
}

export function optionalIntArg(value: unknown, name: string, command: Command, min?: number): number | undefined {
  return value === undefined ? undefined : intArg(value, name, command, min);
}

export function stringList(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}
