-- The upload pipeline's tables. `:SCHEMA` is replaced by the quoted schema name (upload_pipeline).

-- One row per upload job, kept true by the machine's step hook in the same transaction as each
-- step: `SELECT stage, count(*) FROM upload_pipeline.upload_jobs GROUP BY stage` is always right.
CREATE TABLE :SCHEMA.upload_jobs (
  job_id uuid PRIMARY KEY,
  stage text NOT NULL,
  status text NOT NULL,
  filename text NOT NULL,
  bytes bigint NOT NULL,
  sha256 text NOT NULL UNIQUE,
  media_type text,
  -- The parser's own job id (LlamaParse), to match its callbacks.
  parse_job_id text,
  metadata jsonb NOT NULL DEFAULT '{}',
  error jsonb,
  warnings jsonb NOT NULL DEFAULT '[]',
  -- Service attempts that failed and were retried, over the job's life.
  attempts integer NOT NULL DEFAULT 0,
  chunks integer NOT NULL DEFAULT 0,
  embedded integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX upload_jobs_stage_idx ON :SCHEMA.upload_jobs (stage, created_at, job_id);
CREATE INDEX upload_jobs_parse_job_idx ON :SCHEMA.upload_jobs (parse_job_id) WHERE parse_job_id IS NOT NULL;
CREATE INDEX upload_jobs_created_idx ON :SCHEMA.upload_jobs (created_at, job_id);

-- Uploaded bytes, by content hash, where every worker can read them.
CREATE TABLE :SCHEMA.files (
  sha256 text PRIMARY KEY,
  content bytea NOT NULL,
  created_at timestamptz NOT NULL
);

-- Remote parse jobs by the idempotency key of the submission that made them, so a retried
-- submission does not upload (and bill) again.
CREATE TABLE :SCHEMA.parse_submissions (
  idempotency_key text PRIMARY KEY,
  job_id uuid NOT NULL,
  remote_job_id text NOT NULL,
  created_at timestamptz NOT NULL
);

-- The parser's output, one row per job.
CREATE TABLE :SCHEMA.documents (
  job_id uuid PRIMARY KEY,
  markdown text NOT NULL,
  pages integer NOT NULL,
  created_at timestamptz NOT NULL
);

CREATE TABLE :SCHEMA.chunks (
  job_id uuid NOT NULL,
  index integer NOT NULL,
  text text NOT NULL,
  tokens integer NOT NULL,
  headers jsonb NOT NULL DEFAULT '[]',
  "offset" integer NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (job_id, index)
);

-- The embedding: pgvector's `vector` where the extension exists (PGlite, most managed Postgres),
-- a float array where it does not, so the pipeline runs either way.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    CREATE EXTENSION IF NOT EXISTS vector;
    EXECUTE 'ALTER TABLE :SCHEMA.chunks ADD COLUMN embedding vector';
  ELSE
    EXECUTE 'ALTER TABLE :SCHEMA.chunks ADD COLUMN embedding real[]';
  END IF;
END
$$;
