-- Tenants, API keys and per-job webhook tokens. `:SCHEMA` is replaced by the quoted schema name.

-- A job belongs to the tenant whose key uploaded it; jobs from before tenants, and every job of a
-- server without keys, belong to 'default'.
ALTER TABLE :SCHEMA.upload_jobs ADD COLUMN tenant text NOT NULL DEFAULT 'default';
-- The same bytes are one job per tenant, never one job across tenants.
ALTER TABLE :SCHEMA.upload_jobs DROP CONSTRAINT upload_jobs_sha256_key;
ALTER TABLE :SCHEMA.upload_jobs ADD CONSTRAINT upload_jobs_tenant_sha256_key UNIQUE (tenant, sha256);
CREATE INDEX upload_jobs_tenant_created_idx ON :SCHEMA.upload_jobs (tenant, created_at, job_id);
-- sha256 of the random token in this job's LlamaParse callback URL (when no signing secret is set):
-- a webhook must carry the token. Null while the job has not been submitted to LlamaParse.
ALTER TABLE :SCHEMA.upload_jobs ADD COLUMN webhook_token_sha256 text;

-- API keys made by `docket keys create`. Only the sha256 of a key is kept (the key is shown once);
-- `prefix` is its first characters, so a listing can tell keys apart without revealing them.
CREATE TABLE :SCHEMA.api_keys (
  id uuid PRIMARY KEY,
  tenant text NOT NULL,
  key_sha256 text NOT NULL UNIQUE,
  prefix text NOT NULL,
  created_at timestamptz NOT NULL,
  revoked_at timestamptz
);
