import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../index.js';
import { PIPELINE_SCHEMA } from './store.js';

const table = `"${PIPELINE_SCHEMA}".api_keys`;

/** A tenant's name: a key's owner, and the owner of the jobs that key uploads. */
export const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A key as `docket keys list` shows it: never the key itself. */
export interface ApiKeyInfo {
  id: string;
  tenant: string;
  /** The key's first characters, to tell keys apart. */
  prefix: string;
  created_at: Date;
  revoked_at: Date | null;
}

/** A key configured outside the table (DOCKET_API_KEYS): its tenant and the sha256 of the key. */
export interface StaticKey {
  tenant: string;
  sha256: Buffer;
}

/** What a presented key (or none) comes to: its tenant, or null and whether any key exists at all. */
export type KeyCheck = { tenant: string } | { tenant: null; keysExist: boolean };

/**
 * Keys are stored as their sha256, not with a slow password hash (scrypt, bcrypt): a key is 32
 * random bytes (256 bits), so a stolen digest cannot be reversed by guessing, and a fast hash keeps
 * the check to microseconds on every request. A slow hash defends low-entropy passwords; these are not.
 */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** A new key: `dk_` and 32 random bytes in base64url (43 characters). */
export function newApiKey(): string {
  return `dk_${randomBytes(32).toString('base64url')}`;
}

/** The API keys of the table `upload_pipeline.api_keys` (docket keys create | list | revoke), and the check of a presented key. */
export class ApiKeys {
  constructor(
    private readonly db: Queryable,
    /** Keys from the configuration, checked before the table's. */
    private readonly staticKeys: readonly StaticKey[] = [],
  ) {}

  /** Makes a key for `tenant`; the key itself is returned here and never again. */
  async create(tenant: string, now: Date): Promise<ApiKeyInfo & { key: string }> {
    if (!TENANT_NAME.test(tenant)) throw new RangeError(`"${tenant}" is not a tenant name: 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`);
    const key = newApiKey();
    const info = { id: randomUUID(), tenant, prefix: key.slice(0, 10), created_at: now, revoked_at: null };
    await this.db.query(`INSERT INTO ${table} (id, tenant, key_sha256, prefix, created_at) VALUES ($1, $2, $3, $4, $5)`, [
      info.id,
      tenant,
      keyDigest(key).toString('hex'),
      info.prefix,
      now,
    ]);
    return { ...info, key };
  }

  /** Every key of the table, oldest first, revoked ones included. */
  async list(): Promise<ApiKeyInfo[]> {
    const { rows } = await this.db.query<ApiKeyInfo>(`SELECT id, tenant, prefix, created_at, revoked_at FROM ${table} ORDER BY created_at, id`);
    return rows;
  }

  /** Revokes a key: from the next request on it is refused. False when there is no such key, or it was revoked already. */
  async revoke(id: string, now: Date): Promise<boolean> {
    const { rows } = await this.db.query(`UPDATE ${table} SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id`, [id, now]);
    return rows.length > 0;
  }

  /**
   * The tenant of `presented` (a key, or undefined for none). Configured keys are compared in
   * constant time, all of them each time; the table is searched by digest (an index lookup on a
   * hash of the key tells a timing attacker nothing about the key) and the digest found is compared
   * again in constant time. One round trip also says whether any key exists, for a request without one.
   */
  async check(presented: string | undefined): Promise<KeyCheck> {
    const digest = presented === undefined ? null : keyDigest(presented);
    let tenant: string | null = null;
    if (digest) for (const key of this.staticKeys) if (timingSafeEqual(key.sha256, digest) && tenant === null) tenant = key.tenant;
    if (tenant !== null) return { tenant };
    const { rows } = await this.db.query<{ tenant: string | null; key_sha256: string | null; any: boolean }>(
      `SELECT k.tenant, k.key_sha256, EXISTS (SELECT 1 FROM ${table} WHERE revoked_at IS NULL) AS any
       FROM (SELECT 1) AS one LEFT JOIN ${table} k ON k.key_sha256 = $1 AND k.revoked_at IS NULL`,
      [digest?.toString('hex') ?? null],
    );
    const row = rows[0];
    if (digest && row?.tenant && row.key_sha256 && timingSafeEqual(Buffer.from(row.key_sha256, 'hex'), digest)) return { tenant: row.tenant };
    return { tenant: null, keysExist: this.staticKeys.length > 0 || Boolean(row?.any) };
  }

  /** Whether any key exists (configured, or in the table and not revoked). */
  async any(): Promise<boolean> {
    const check = await this.check(undefined);
    return check.tenant !== null || check.keysExist;
  }
}
