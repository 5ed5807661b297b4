// @tributary/cli: the `tributary` command. `run(argv, io)` runs one invocation with captured I/O.
export { run, describeFailure, splitCommandWords, generalHelp, commandHelp } from './cli.ts';
export { compactBootstrap, defaultBootstrap, localDataDir } from './bootstrap.ts';
export type { RunOptions } from './cli.ts';
export { UsageError, intArg, optionalIntArg, stringList } from './command.ts';
export type { CliIo, Command, CommandContext, FlagValues } from './command.ts';
export { COMMANDS } from './commands/index.ts';
export { renderTable } from './table.ts';
export type { TableOptions } from './table.ts';
export { byBrokerView, rackAlternated, renderByBroker } from './by-broker.ts';
export type { BrokerRow, ViewBroker, ViewPartition } from './by-broker.ts';
