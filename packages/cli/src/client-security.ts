// Where the CLI's clients get TLS and SCRAM from (issue 20).

import { readFileSync } from 'node:fs';
import type { ClientOptions } from '@tributary/client';
import { localCredentials, readState } from '@tributary/launcher';
import { localDataDir } from './bootstrap.ts';
import type { CommandContext } from './command.ts';

/**
 * TLS and SCRAM options for the clients: flags, else TRIBUTARY_* variables, else the local
 * cluster's secrets when it runs secure (`local up --secure`): its CA and its super user admin.
 */
export function clientSecurity(values: CommandContext['values'], env: Record<string, string | undefined>): Pick<ClientOptions, 'ca' | 'credentials'> {
  const pick = (flag: string, variable: string): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    const e = env[variable];
    return e === undefined || e === '' ? undefined : e;
  };
  const dataDir = localDataDir(env, typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined);
  const local = readState(dataDir)?.secure === true ? localCredentials(dataDir) : undefined;
  const caFile = pick('ca', 'TRIBUTARY_CA') ?? local?.caFile;
  let user = pick('user', 'TRIBUTARY_USER');
  let password = pick('password', 'TRIBUTARY_PASSWORD');
  const passwordFile = password === undefined ? pick('password-file', 'TRIBUTARY_PASSWORD_FILE') : undefined;
  if (passwordFile !== undefined) {
    try {
      password = readFileSync(passwordFile, 'utf8').trim();
    } catch (err) {
      throw new Error(`--password-file ${passwordFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (user === undefined && password === undefined && local !== undefined) {
    user = local.user;
    password = local.password;
  }
  if ((user === undefined) !== (password === undefined))
    throw new Error('--user and --password (or --password-file) go together (or TRIBUTARY_USER and TRIBUTARY_PASSWORD / TRIBUTARY_PASSWORD_FILE)');
  const options: Pick<ClientOptions, 'ca' | 'credentials'> = {};
  if (caFile !== undefined) {
    try {
      options.ca = readFileSync(caFile);
    } catch (err) {
      throw new Error(`--ca ${caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (user !== undefined && password !== undefined) options.credentials = { user, password };
  return options;
}
