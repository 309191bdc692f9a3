table api_keys
  id uuid not null
  tenant text not null
  key_sha256 text not null
  prefix text not null
  created_at timestamp with time zone not null
  revoked_at timestamp with time zone
table budget_grants
  id bigint not null
  key text not null
  at timestamp with time zone not null
  until timestamp with time zone not null
  done boolean not null
  tokens bigint not null
  requests integer not null
table budgets
  key text not null
  paused_until timestamp with time zone
table chunks
  job_id uuid not null
  index integer not null
  text text not null
  tokens integer not null
  headers jsonb not null default '[]'::jsonb
  offset integer not null
  created_at timestamp with time zone not null
  embedding USER-DEFINED
table documents
  job_id uuid not null
  markdown text not null
  pages integer not null
  created_at timestamp with time zone not null
table files
  sha256 text not null
  content bytea not null
  created_at timestamp with time zone not null
table migrations
  scope text not null
  id integer not null
  name text not null
  applied_at timestamp with time zone not null default now()
  breaking boolean not null default false
table parse_submissions
  idempotency_key text not null
  job_id uuid not null
  remote_job_id text not null
  created_at timestamp with time zone not null
table upload_jobs
  job_id uuid not null
  stage text not null
  status text not null
  filename text not null
  bytes bigint not null
  sha256 text not null
  media_type text
  parse_job_id text
  metadata jsonb not null default '{}'::jsonb
  error jsonb
  warnings jsonb not null default '[]'::jsonb
  attempts integer not null default 0
  chunks integer not null default 0
  embedded integer not null default 0
  created_at timestamp with time zone not null
  updated_at timestamp with time zone not null
  tenant text not null default 'default'::text
  webhook_token_sha256 text
constraint :SCHEMA.api_keys api_keys_key_sha256_key UNIQUE (key_sha256)
constraint :SCHEMA.api_keys api_keys_pkey PRIMARY KEY (id)
constraint :SCHEMA.budget_grants budget_grants_pkey PRIMARY KEY (id)
constraint :SCHEMA.budgets budgets_pkey PRIMARY KEY (key)
constraint :SCHEMA.chunks chunks_pkey PRIMARY KEY (job_id, index)
constraint :SCHEMA.documents documents_pkey PRIMARY KEY (job_id)
constraint :SCHEMA.files files_pkey PRIMARY KEY (sha256)
constraint :SCHEMA.migrations migrations_pkey PRIMARY KEY (scope, id)
constraint :SCHEMA.parse_submissions parse_submissions_pkey PRIMARY KEY (idempotency_key)
constraint :SCHEMA.upload_jobs upload_jobs_pkey PRIMARY KEY (job_id)
constraint :SCHEMA.upload_jobs upload_jobs_tenant_sha256_key UNIQUE (tenant, sha256)
index CREATE UNIQUE INDEX api_keys_key_sha256_key ON :SCHEMA.api_keys USING btree (key_sha256)
index CREATE UNIQUE INDEX api_keys_pkey ON :SCHEMA.api_keys USING btree (id)
index CREATE INDEX budget_grants_key_until_idx ON :SCHEMA.budget_grants USING btree (key, until)
index CREATE UNIQUE INDEX budget_grants_pkey ON :SCHEMA.budget_grants USING btree (id)
index CREATE UNIQUE INDEX budgets_pkey ON :SCHEMA.budgets USING btree (key)
index CREATE UNIQUE INDEX chunks_pkey ON :SCHEMA.chunks USING btree (job_id, index)
index CREATE UNIQUE INDEX documents_pkey ON :SCHEMA.documents USING btree (job_id)
index CREATE UNIQUE INDEX files_pkey ON :SCHEMA.files USING btree (sha256)
index CREATE UNIQUE INDEX migrations_pkey ON :SCHEMA.migrations USING btree (scope, id)
index CREATE UNIQUE INDEX parse_submissions_pkey ON :SCHEMA.parse_submissions USING btree (idempotency_key)
index CREATE INDEX upload_jobs_created_idx ON :SCHEMA.upload_jobs USING btree (created_at, job_id)
index CREATE INDEX upload_jobs_parse_job_idx ON :SCHEMA.upload_jobs USING btree (parse_job_id) WHERE (parse_job_id IS NOT NULL)
index CREATE UNIQUE INDEX upload_jobs_pkey ON :SCHEMA.upload_jobs USING btree (job_id)
index CREATE INDEX upload_jobs_stage_idx ON :SCHEMA.upload_jobs USING btree (stage, created_at, job_id)
index CREATE INDEX upload_jobs_tenant_created_idx ON :SCHEMA.upload_jobs USING btree (tenant, created_at, job_id)
index CREATE UNIQUE INDEX upload_jobs_tenant_sha256_key ON :SCHEMA.upload_jobs USING btree (tenant, sha256)
function acquire_budget
function ensure_search_index
