// The dispatcher: finds the command in the table by its leading words, parses its flags with
// node:util parseArgs (strict), runs it, and turns every failure into ONE line that says what
// went wrong and what to do. Exit codes: 0 ok, 1 the operation failed, 2 usage error.

import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { Admin, TributaryError, normalizeBootstrap, formatEndpoints, type ClientOptions } from '@tributary/client';
import { defaultBootstrap } from './bootstrap.ts';
import { clientSecurity } from './client-security.ts';
import { UsageError, type CliIo, type Command, type CommandContext } from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { renderTable } from './table.ts';

const GLOBAL_OPTIONS: ParseArgsOptionsConfig = {
  bootstrap: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  user: { type: 'string' },
  password: { type: 'string' },
  'password-file': { type: 'string' },
  ca: { type: 'string' },
};

const GLOBAL_FLAG_HELP = [
  '--bootstrap HOST:PORT[,…]  brokers to ask first (default $TRIBUTARY_BOOTSTRAP, else every broker of the',
  '                           local cluster: 127.0.0.1:19092…19097, or the ports `local up` used)',
  '--json                     machine-readable output',
  '--user NAME --password PW  a SCRAM user of a secure cluster (default $TRIBUTARY_USER / $TRIBUTARY_PASSWORD, else',
  "                           the local secure cluster's admin: <data-dir>/secrets/admin.password)",
  '--password-file FILE       the password from a file, instead of --password (default $TRIBUTARY_PASSWORD_FILE)',
  '--ca FILE                  the cluster CA, PEM: talk TLS (default $TRIBUTARY_CA, else <data-dir>/secrets/ca.pem',
  '                           when the local cluster runs secure)',
  '-h, --help                 this help',
];

/** Options that take a value, so the word after them is not mistaken for a command word. */
function takesValue(name: string, commands: readonly Command[]): boolean {
  if (GLOBAL_OPTIONS[name]?.type === 'string') return true;
  return commands.some((c) => c.options?.[name]?.type === 'string');
}

/** Splits argv into the command words (leading non-flag words) and the rest. */
export function splitCommandWords(argv: readonly string[], commands: readonly Command[]): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  const commandWords = new Set(commands.flatMap((c) => c.path));
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      rest.push(arg);
      const name = arg.replace(/^--?/, '').split('=')[0]!;
      if (!arg.includes('=') && takesValue(name, commands) && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    // Only words that can still extend a command path count as command words.
    const prefix = [...words, arg];
    if (commandWords.has(arg) && commands.some((c) => prefix.every((w, k) => c.path[k] === w))) {
      words.push(arg);
      continue;
    }
    break;
  }
  rest.push(...argv.slice(i));
  return { words, rest };
}

export interface RunOptions {
  /** The command table (tests and the launcher wiring may pass their own). */
  commands?: readonly Command[];
}

/** Runs one CLI invocation; returns the exit code. Never throws. */
export async function run(argv: readonly string[], io: CliIo, options: RunOptions = {}): Promise<number> {
  const commands = options.commands ?? COMMANDS;
  const { words, rest } = splitCommandWords(argv, commands);
  const command = commands.find((c) => c.path.length === words.length && c.path.every((w, k) => w === words[k]));
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  const wantsJson = rest.includes('--json');

  if (!command) {
    if (words.length === 0 && (wantsHelp || argv.length === 0)) {
      for (const line of generalHelp(commands)) (argv.length === 0 ? io.err : io.out)(line);
      return argv.length === 0 ? 2 : 0;
    }
    const group = commands.filter((c) => words.length > 0 && words.every((w, k) => c.path[k] === w));
    if (group.length > 0) {
      if (wantsHelp) {
        for (const line of groupHelp(words, group)) io.out(line);
        return 0;
      }
      const next = [...new Set(group.map((c) => c.path[words.length]))].join(', ');
      return usageFailure(io, wantsJson, `'${words.join(' ')}' needs a subcommand: ${next}`, `tributary ${words.join(' ')} --help`);
    }
    const unknown = rest.find((a) => !a.startsWith('-')) ?? argv[0] ?? '';
    return usageFailure(io, wantsJson, `unknown command '${[...words, unknown].join(' ').trim()}'`, 'tributary --help');
  }

  if (wantsHelp) {
    for (const line of commandHelp(command)) io.out(line);
    return 0;
  }

  let values: CommandContext['values'];
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: [...rest], options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
    values = parsed.values as CommandContext['values'];
    positionals = parsed.positionals;
  } catch (err) {
    return usageFailure(io, wantsJson, cleanParseError((err as Error).message), `tributary ${command.path.join(' ')} --help`);
  }
  const json = values.json === true;
  const expected = command.positionals ?? [];
  const required = expected.filter((p) => !p.startsWith('[')).length;
  const variadic = expected.some((p) => p.endsWith('...') || p.endsWith('...]'));
  if (positionals.length < required) {
    return usageFailure(io, json, `missing ${expected.slice(positionals.length, required).join(' ')}`, `tributary ${command.path.join(' ')} --help`);
  }
  if (!variadic && positionals.length > expected.length) {
    return usageFailure(io, json, `unexpected argument '${positionals[expected.length]}'`, `tributary ${command.path.join(' ')} --help`);
  }

  const env = io.env ?? process.env;
  const bootstrapText = (values.bootstrap as string | undefined) ?? env.TRIBUTARY_BOOTSTRAP ?? defaultBootstrap(env).join(',');
  let bootstrap: string[];
  try {
    bootstrap = normalizeBootstrap(bootstrapText).map((e) => `${e.host}:${e.port}`);
  } catch (err) {
    return usageFailure(io, json, `--bootstrap: ${(err as Error).message}`, `tributary ${command.path.join(' ')} --help`);
  }

  const closers: (() => Promise<void>)[] = [];
  let admin: Admin | undefined;
  const clientOptions: ClientOptions = { bootstrap };
  try {
    Object.assign(clientOptions, clientSecurity(values, env));
  } catch (err) {
    return usageFailure(io, json, (err as Error).message, `tributary ${command.path.join(' ')} --help`);
  }
  const ctx: CommandContext = {
    values,
    positionals,
    io,
    json,
    bootstrap,
    clientOptions,
    command,
    admin() {
      if (!admin) {
        admin = new Admin(clientOptions);
        closers.push(() => admin!.close());
      }
      return admin;
    },
    onClose(close) {
      closers.push(close);
    },
  };
  try {
    const code = await command.run(ctx);
    return code ?? 0;
  } catch (err) {
    return reportFailure(io, json, err, command, bootstrap);
  } finally {
    await Promise.allSettled(closers.reverse().map((c) => c()));
  }
}

function cleanParseError(message: string): string {
  // parseArgs messages end with advice about '--' that does not apply here; keep the first sentence.
  const first = message.split('. To specify')[0]!.replace(/\.$/, '');
  return first.charAt(0).toLowerCase() + first.slice(1);
}

function usageFailure(io: CliIo, json: boolean, message: string, helpCommand: string): number {
  if (json) io.err(JSON.stringify({ error: { code: 'USAGE', message, help: helpCommand } }));
  else io.err(`error: ${message} — see '${helpCommand}'`);
  return 2;
}

/** What a failed command prints: one line, what went wrong and what to do. */
export function describeFailure(err: unknown, command: Command | undefined, bootstrap: readonly string[]): { exitCode: number; code: string; line: string } {
  if (err instanceof UsageError) {
    const help = `tributary ${(err.command ?? command)?.path.join(' ') ?? ''} --help`.replace(/\s+/g, ' ');
    return { exitCode: 2, code: 'USAGE', line: `error: ${err.message} — see '${help}'` };
  }
  if (err instanceof TributaryError) {
    if (err.code === 'BROKER_NOT_AVAILABLE' && /cannot reach any broker/.test(err.message)) {
      return {
        exitCode: 1,
        code: err.code,
        line: `error: cannot reach any broker at ${formatEndpoints(normalizeBootstrap(bootstrap))} — is the cluster running? (pnpm start)`,
      };
    }
    const hint = HINTS[err.code];
    return { exitCode: 1, code: err.code, line: `error: ${err.code}: ${oneLine(err.message)}${hint ? ` — ${hint}` : ''}` };
  }
  return { exitCode: 1, code: 'ERROR', line: `error: ${oneLine((err as Error)?.message ?? String(err))}` };
}

const HINTS: Partial<Record<string, string>> = {
  UNKNOWN_TOPIC_OR_PARTITION: "see 'tributary topics list'",
  INVALID_REPLICATION_FACTOR: "see 'tributary cluster' for the live brokers",
  NOT_ENOUGH_REPLICAS: "the ISR is below min.insync.replicas; see 'tributary topics describe TOPIC'",
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: "the ISR shrank below min.insync.replicas; see 'tributary topics describe TOPIC'",
  INVALID_CONFIG: "see 'tributary configs alter --help'",
  INVALID_PARTITIONS: 'partitions can be added, never removed (as in Kafka): give a count above the current one',
  SASL_AUTHENTICATION_FAILED: 'give a user of the cluster: --user NAME --password PW (or TRIBUTARY_USER / TRIBUTARY_PASSWORD)',
  TOPIC_AUTHORIZATION_FAILED: 'ask an admin for an ACL: tributary acls add --principal User:NAME --operation Write|Read --topic T',
  GROUP_AUTHORIZATION_FAILED: 'ask an admin for an ACL: tributary acls add --principal User:NAME --operation Read --group G',
  CLUSTER_AUTHORIZATION_FAILED: 'this needs a super user or an ACL on the cluster (tributary acls add … --cluster)',
};

function reportFailure(io: CliIo, json: boolean, err: unknown, command: Command, bootstrap: readonly string[]): number {
  const failure = describeFailure(err, command, bootstrap);
  if (json) io.err(JSON.stringify({ error: { code: failure.code, message: failure.line.replace(/^error: /, '') } }));
  else io.err(failure.line);
  return failure.exitCode;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

export function generalHelp(commands: readonly Command[]): string[] {
  return [
    'usage: tributary <command> [flags]',
    '',
    'commands:',
    ...renderTable(commands.map((c) => [`  ${c.path.join(' ')}`, c.summary])),
    '',
    'global flags:',
    ...GLOBAL_FLAG_HELP.map((l) => `  ${l}`),
    '',
    "run 'tributary <command> --help' for a command's flags",
  ];
}

function groupHelp(words: readonly string[], group: readonly Command[]): string[] {
  return [`usage: tributary ${words.join(' ')} <subcommand> [flags]`, '', 'subcommands:', ...renderTable(group.map((c) => [`  ${c.usage}`, c.summary]))];
}

export function commandHelp(command: Command): string[] {
  const lines = [`usage: tributary ${command.usage}`, '', command.summary];
  if (command.flagHelp && command.flagHelp.length > 0) lines.push('', 'flags:', ...command.flagHelp.map((l) => `  ${l}`));
  lines.push('', 'global flags:', ...GLOBAL_FLAG_HELP.map((l) => `  ${l}`));
  if (command.details && command.details.length > 0) lines.push('', ...command.details);
  return lines;
}
