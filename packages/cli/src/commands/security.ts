// `tributary users …`, `tributary acls …` (Kafka's kafka-configs --alter --add-config SCRAM-…,
// kafka-acls) and `tributary certs create`: the tools of a secure cluster (issue 20).

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AclBinding, AclBindingFilter, AclOperation } from '@tributary/client';
import { ACL_OPERATIONS } from '@tributary/protocol';
import { ensureCertificates, ensureSuperUserPassword } from '@tributary/launcher';
import { UsageError, type Command, type CommandContext } from '../command.ts';
import { renderTable } from '../table.ts';

export const usersAdd: Command = {
  path: ['users', 'add'],
  summary: 'create a SCRAM user or set its password (SCRAM-SHA-256 and -512; the password never leaves this process)',
  usage: 'users add NAME [--user-password PW | --user-password-file FILE]',
  positionals: ['NAME'],
  options: { 'user-password': { type: 'string' }, 'user-password-file': { type: 'string' } },
  flagHelp: [
    "--user-password PW        the new user's password (default: a random one, printed)",
    '--user-password-file FILE read it from FILE (its first line)',
  ],
  details: ['Needs a super user or Alter on the cluster. --user/--password name who runs the command, not the new user.'],
  async run(ctx) {
    const name = ctx.positionals[0]!;
    const fromFile = ctx.values['user-password-file'];
    const given = typeof fromFile === 'string' ? readFileSync(fromFile, 'utf8').split('\n')[0]!.trim() : (ctx.values['user-password'] as string | undefined);
    const password = given ?? randomBytes(18).toString('base64url');
    if (password.length === 0) throw new UsageError('the password must not be empty', ctx.command);
    await ctx.admin().upsertUser(name, password);
    if (ctx.json) ctx.io.out(JSON.stringify({ user: name, ...(given === undefined ? { password } : {}) }));
    else ctx.io.out(given === undefined ? `user '${name}' set; password: ${password}` : `user '${name}' set`);
  },
};

export const usersList: Command = {
  path: ['users', 'list'],
  summary: 'list the SCRAM users and their mechanisms',
  usage: 'users list',
  async run(ctx) {
    const users = await ctx.admin().describeUsers();
    if (ctx.json) {
      ctx.io.out(JSON.stringify({ users }));
      return;
    }
    const rows = users.map((u) => [u.user, u.credentials.map((c) => `${c.mechanism} (${c.iterations} iterations)`).join(', ')]);
    for (const line of renderTable(rows, { header: ['USER', 'CREDENTIALS'] })) ctx.io.out(line);
  },
};

export const usersDelete: Command = {
  path: ['users', 'delete'],
  summary: 'delete a SCRAM user (its sessions end at once; its ACLs stay until removed)',
  usage: 'users delete NAME',
  positionals: ['NAME'],
  async run(ctx) {
    const name = ctx.positionals[0]!;
    await ctx.admin().deleteUser(name);
    ctx.io.out(ctx.json ? JSON.stringify({ deleted: name }) : `user '${name}' deleted`);
  },
};

const OPERATIONS: readonly AclOperation[] = ACL_OPERATIONS;

const ACL_OPTIONS = {
  principal: { type: 'string' as const },
  host: { type: 'string' as const },
  operation: { type: 'string' as const, multiple: true as const },
  topic: { type: 'string' as const },
  group: { type: 'string' as const },
  cluster: { type: 'boolean' as const },
  prefixed: { type: 'boolean' as const },
  deny: { type: 'boolean' as const },
};
const ACL_HELP = [
  '--principal User:NAME  who (User:* for everyone)',
  '--host IP              from where (default *)',
  `--operation OP         ${OPERATIONS.join(', ')} (repeatable)`,
  '--topic T | --group G | --cluster   on what (* for every topic or group)',
  "--prefixed             T or G is a prefix (Kafka's PREFIXED pattern), not a literal name",
  '--deny                 a Deny (deny wins over any Allow), not an Allow',
];

function resourceOf(ctx: CommandContext, required: boolean): Pick<AclBinding, 'resourceType' | 'resourceName' | 'patternType'> | undefined {
  const topic = ctx.values.topic;
  const group = ctx.values.group;
  const cluster = ctx.values.cluster === true;
  const given = [topic !== undefined, group !== undefined, cluster].filter(Boolean).length;
  if (given > 1) throw new UsageError('give one of --topic, --group or --cluster', ctx.command);
  if (given === 0) {
    if (required) throw new UsageError('give one of --topic T, --group G or --cluster', ctx.command);
    return undefined;
  }
  const patternType = ctx.values.prefixed === true ? 'Prefixed' : 'Literal';
  if (cluster) return { resourceType: 'Cluster', resourceName: 'kafka-cluster', patternType: 'Literal' };
  return typeof topic === 'string'
    ? { resourceType: 'Topic', resourceName: topic, patternType }
    : { resourceType: 'Group', resourceName: group as string, patternType };
}

function operationsOf(ctx: CommandContext, required: boolean): AclOperation[] {
  const raw = (ctx.values.operation as string[] | undefined) ?? [];
  if (raw.length === 0 && required) throw new UsageError(`give --operation (${OPERATIONS.join(', ')})`, ctx.command);
  return raw.map((op) => {
    const found = OPERATIONS.find((o) => o.toLowerCase() === op.toLowerCase());
    if (found === undefined) throw new UsageError(`unknown operation '${op}'; use one of ${OPERATIONS.join(', ')}`, ctx.command);
    return found;
  });
}

/** The filter the acls list/remove flags describe (a flag left out matches anything). */
function filterOf(ctx: CommandContext): AclBindingFilter[] {
  const base: AclBindingFilter = {};
  if (typeof ctx.values.principal === 'string') base.principal = ctx.values.principal;
  if (typeof ctx.values.host === 'string') base.host = ctx.values.host;
  if (ctx.values.deny === true) base.permission = 'Deny';
  Object.assign(base, resourceOf(ctx, false) ?? {});
  const ops = operationsOf(ctx, false);
  return ops.length === 0 ? [base] : ops.map((operation) => ({ ...base, operation }));
}

function aclLines(acls: readonly AclBinding[]): string[] {
  const rows = acls.map((a) => [a.principal, a.host, a.permission, a.operation, a.resourceType, a.resourceName, a.patternType]);
  return renderTable(rows, { header: ['PRINCIPAL', 'HOST', 'PERMISSION', 'OPERATION', 'RESOURCE', 'NAME', 'PATTERN'] });
}

export const aclsAdd: Command = {
  path: ['acls', 'add'],
  summary: "add ACLs (Kafka's semantics: deny wins, nothing allowed without an ACL, super users bypass)",
  usage: 'acls add --principal User:NAME --operation OP… (--topic T | --group G | --cluster) [--prefixed] [--deny] [--host IP]',
  options: ACL_OPTIONS,
  flagHelp: ACL_HELP,
  details: [
    'e.g. tributary acls add --principal User:alice --operation Write --topic demo',
    '     tributary acls add --principal User:alice --operation Read --topic demo --operation Read --group billing',
  ],
  async run(ctx) {
    const principal = ctx.values.principal;
    if (typeof principal !== 'string') throw new UsageError('give --principal User:NAME', ctx.command);
    const resource = resourceOf(ctx, true)!;
    const bindings: AclBinding[] = operationsOf(ctx, true).map((operation) => ({
      principal,
      host: typeof ctx.values.host === 'string' ? ctx.values.host : '*',
      operation,
      permission: ctx.values.deny === true ? 'Deny' : 'Allow',
      ...resource,
    }));
    await ctx.admin().createAcls(bindings);
    if (ctx.json) ctx.io.out(JSON.stringify({ added: bindings }));
    else for (const line of aclLines(bindings)) ctx.io.out(line);
  },
};

export const aclsList: Command = {
  path: ['acls', 'list'],
  summary: 'list ACLs (all, or those matching the flags given)',
  usage: 'acls list [--principal User:NAME] [--operation OP] [--topic T | --group G | --cluster] [--prefixed] [--deny] [--host IP]',
  options: ACL_OPTIONS,
  flagHelp: ACL_HELP,
  async run(ctx) {
    const filters = filterOf(ctx);
    const acls = (await Promise.all(filters.map((f) => ctx.admin().describeAcls(f)))).flat();
    if (ctx.json) ctx.io.out(JSON.stringify({ acls }));
    else if (acls.length === 0) ctx.io.out('no ACLs');
    else for (const line of aclLines(acls)) ctx.io.out(line);
  },
};

export const aclsRemove: Command = {
  path: ['acls', 'remove'],
  summary: 'remove the ACLs matching the flags given (at least one)',
  usage: 'acls remove [--principal User:NAME] [--operation OP] [--topic T | --group G | --cluster] [--prefixed] [--deny] [--host IP]',
  options: ACL_OPTIONS,
  flagHelp: ACL_HELP,
  async run(ctx) {
    const filters = filterOf(ctx);
    if (filters.length === 1 && Object.keys(filters[0]!).length === 0)
      throw new UsageError('name what to remove (e.g. --principal User:alice); every ACL would go', ctx.command);
    const removed = await ctx.admin().deleteAcls(filters);
    if (ctx.json) ctx.io.out(JSON.stringify({ removed }));
    else {
      ctx.io.out(`removed ${removed.length} ACL${removed.length === 1 ? '' : 's'}`);
      if (removed.length > 0) for (const line of aclLines(removed)) ctx.io.out(line);
    }
  },
};

export const certsCreate: Command = {
  path: ['certs', 'create'],
  summary: 'make a cluster CA and a certificate per process (mutual TLS between brokers and controller)',
  usage: 'certs create --dir DIR [--names controller,broker-0,…] [--hosts 127.0.0.1,localhost,…] [--super-user NAME]',
  usesCluster: false,
  options: { dir: { type: 'string' }, names: { type: 'string' }, hosts: { type: 'string' }, 'super-user': { type: 'string' } },
  flagHelp: [
    '--dir DIR        where to write ca.pem, ca-key.pem and NAME.pem / NAME-key.pem (files 0600, dir 0700)',
    '--names LIST     the processes (default controller,broker-0…broker-5); each certificate also names its own host',
    '--hosts LIST     addresses every certificate is valid for (default 127.0.0.1,localhost)',
    '--super-user NAME  also a random password for that user in DIR/NAME.password (0600), for the',
    "                 controller's --bootstrap-user NAME:DIR/NAME.password and the CLI's --password-file",
  ],
  details: [
    'An existing CA in DIR is reused, and so are existing certificates and password files: run it again to add a process.',
    "A certificate's common name is its process: the controller's must be `controller`, broker N's `broker-N`.",
  ],
  async run(ctx) {
    const dir = ctx.values.dir;
    if (typeof dir !== 'string') throw new UsageError('give --dir DIR', ctx.command);
    const list = (v: unknown, fallback: string[]) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((x) => x.trim())
            .filter((x) => x !== '')
        : fallback;
    const names = list(ctx.values.names, ['controller', ...[0, 1, 2, 3, 4, 5].map((i) => `broker-${i}`)]);
    const hosts = list(ctx.values.hosts, ['127.0.0.1', 'localhost']);
    const superUser = ctx.values['super-user'];
    if (superUser !== undefined && (typeof superUser !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(superUser)))
      throw new UsageError('--super-user NAME: 1-64 characters of [A-Za-z0-9._-]', ctx.command);
    const made = await ensureCertificates(resolve(dir), names, hosts);
    const passwordFile = typeof superUser === 'string' ? ensureSuperUserPassword(resolve(dir), superUser) : undefined;
    if (ctx.json) ctx.io.out(JSON.stringify({ dir: resolve(dir), made, ...(passwordFile !== undefined ? { passwordFile } : {}) }));
    else {
      ctx.io.out(`certificates in ${resolve(dir)}: ${made.length === 0 ? 'all there already' : `made ${made.join(', ')}`} (CA: ca.pem)`);
      if (passwordFile !== undefined) ctx.io.out(`${superUser}'s password: ${passwordFile}`);
    }
  },
};

export const securityCommands: readonly Command[] = [usersAdd, usersList, usersDelete, aclsAdd, aclsList, aclsRemove, certsCreate];
