// The command table. The dispatcher matches argv's leading words against `path`; order here is
// the order of `tributary --help`.
//
// The launcher's `local up|down|status|kill|restart|pause|resume` commands are wired by adding
// their Command objects (e.g. `...localCommands` from './local.ts', importing
// '@tributary/launcher') to this array.

import type { Command } from '../command.ts';
import { topicsCommands } from './topics.ts';
import { produce } from './produce.ts';
import { consume } from './consume.ts';
import { cluster } from './cluster.ts';
import { brokersSetConfig } from './brokers.ts';

export const COMMANDS: readonly Command[] = [...topicsCommands, produce, consume, cluster, brokersSetConfig];
