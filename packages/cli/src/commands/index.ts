// The command table. The dispatcher matches argv's leading words against `path`; order here is
// the order of `tributary --help`.
//
// `local …` drives the launcher (processes on this machine); the rest talk to a cluster.

import type { Command } from '../command.ts';
import { topicsCommands } from './topics.ts';
import { produce } from './produce.ts';
import { consume } from './consume.ts';
import { cluster } from './cluster.ts';
import { brokersDecommission, brokersSetConfig } from './brokers.ts';
import { configsCommands } from './configs.ts';
import { reassignCommands } from './reassign.ts';
import { localCommands } from './local.ts';
import { watch } from './watch.ts';
import { groupsCommands } from './groups.ts';
import { chaosCommands } from './chaos.ts';
import { securityCommands } from './security.ts';

export const COMMANDS: readonly Command[] = [
  ...localCommands,
  ...topicsCommands,
  produce,
  consume,
  ...groupsCommands,
  cluster,
  watch,
  brokersSetConfig,
  brokersDecommission,
  ...reassignCommands,
  ...configsCommands,
  ...securityCommands,
  ...chaosCommands,
];
