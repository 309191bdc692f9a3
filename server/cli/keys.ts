import { z } from 'zod';
import { TENANT_NAME } from '../../pipeline/api-keys.js';
import { EXIT } from './exit.js';
import { CliError, openPipeline, type CommandContext } from './run.js';

/** `docket keys create <tenant>`: makes a key and prints it, once; only its digest is kept. */
export async function createKey(tenant: string, { config, logger }: CommandContext): Promise<number> {
  if (!TENANT_NAME.test(tenant)) throw new CliError(`"${tenant}" is not a tenant name: 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`, EXIT.usage);
  const pipeline = await openPipeline({ ...config, DATABASE_WAIT_MS: 0 }, logger, false);
  try {
    const created = await pipeline.keys.create(tenant, new Date());
    process.stdout.write(`${created.key}\n`);
    process.stderr.write(`key ${created.id} for tenant ${tenant}; it is shown only now: keep it (send it as "Authorization: Bearer <key>")\n`);
    return EXIT.ok;
  } finally {
    await pipeline.close();
  }
}

/** `docket keys list`: every key of the table (id, tenant, prefix, created, revoked), never the key; `--json` for scripts. */
export async function listKeys(options: { json?: boolean }, { config, logger }: CommandContext): Promise<number> {
  const pipeline = await openPipeline({ ...config, DATABASE_WAIT_MS: 0 }, logger, false);
  try {
    const keys = (await pipeline.keys.list()).map((key) => ({
      id: key.id,
      tenant: key.tenant,
      prefix: key.prefix,
      created_at: new Date(key.created_at).toISOString(),
      revoked_at: key.revoked_at ? new Date(key.revoked_at).toISOString() : null,
    }));
    if (options.json) process.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
    else {
      for (const key of keys) process.stdout.write(`${key.id}  ${key.tenant.padEnd(16)}  ${key.prefix}…  ${key.created_at}  ${key.revoked_at ? `revoked ${key.revoked_at}` : 'active'}\n`);
      if (keys.length === 0) process.stderr.write('no keys in the table (keys in DOCKET_API_KEYS are not listed)\n');
    }
    return EXIT.ok;
  } finally {
    await pipeline.close();
  }
}

/** `docket keys revoke <id>`: the key is refused from the next request on; exits 1 when there is no such active key. */
export async function revokeKey(id: string, { config, logger }: CommandContext): Promise<number> {
  if (!z.uuid().safeParse(id).success) throw new CliError(`"${id}" is not a key id (a uuid, as docket keys list shows it)`, EXIT.usage);
  const pipeline = await openPipeline({ ...config, DATABASE_WAIT_MS: 0 }, logger, false);
  try {
    if (!(await pipeline.keys.revoke(id, new Date()))) throw new CliError(`no active key ${id}`, EXIT.failed);
    process.stdout.write(`revoked ${id}\n`);
    return EXIT.ok;
  } finally {
    await pipeline.close();
  }
}
