-- The durable engine's tables. `:SCHEMA` is replaced by the validated, quoted schema name.

-- One row per machine instance: its persisted XState snapshot and what the workers need to claim it.
CREATE TABLE :SCHEMA.instances (
  id uuid PRIMARY KEY,
  machine text NOT NULL,
  machine_version integer NOT NULL,
  snapshot jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('active', 'done', 'error', 'stopped')),
  error jsonb,
  -- Number of events applied; doubles as the optimistic-lock and notification sequence.
  version integer NOT NULL DEFAULT 0,
  -- Live invocations: child id -> idempotency key of the effect that serves it. A result whose key
  -- is not here any more belongs to an invocation that was cancelled and is dropped.
  invocations jsonb NOT NULL DEFAULT '{}',
  idempotency_key text UNIQUE,
  -- Earliest available_at among this instance's inbox rows, NULL when the inbox is empty. Claims
  -- scan this column alone, so a due instance is found without touching the inbox.
  wake_at timestamptz,
  -- Consecutive failed step transactions (SQL errors, hook errors); reset by a successful step.
  step_failures integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX instances_wake_idx ON :SCHEMA.instances (wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX instances_machine_idx ON :SCHEMA.instances (machine, status);

-- The inbox: events waiting to be applied. A durable timer is an event whose available_at is in the future.
CREATE TABLE :SCHEMA.events (
  id bigserial PRIMARY KEY,
  instance_id uuid NOT NULL REFERENCES :SCHEMA.instances (id) ON DELETE CASCADE,
  event jsonb NOT NULL,
  -- The XState send id of a delayed raise/sendTo, so that xstate.cancel can delete it.
  timer_id text,
  -- Idempotency key of the effect whose result this is (done/error events only).
  source_effect text,
  available_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX events_instance_idx ON :SCHEMA.events (instance_id, available_at, id);
CREATE INDEX events_timer_idx ON :SCHEMA.events (instance_id, timer_id) WHERE timer_id IS NOT NULL;

-- Dedupe keys of sent events. Kept after the event is applied, so a late duplicate is still a no-op.
CREATE TABLE :SCHEMA.dedupe_keys (
  instance_id uuid NOT NULL REFERENCES :SCHEMA.instances (id) ON DELETE CASCADE,
  key text NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (instance_id, key)
);

-- Effects: invoked services, and outbox work (custom actions, emitted events), run outside the step
-- transaction, at least once, idempotent by key.
CREATE TABLE :SCHEMA.effects (
  id bigserial PRIMARY KEY,
  instance_id uuid NOT NULL REFERENCES :SCHEMA.instances (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('invoke', 'action', 'emit')),
  -- The instance's machine, so a runtime claims only effects of machines it knows.
  machine text NOT NULL,
  child_id text,
  service text NOT NULL,
  input jsonb,
  idempotency_key text NOT NULL UNIQUE,
  status text NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'canceled')),
  attempts integer NOT NULL DEFAULT 0,
  -- One entry per failed attempt: {attempt, at, code, message, transient, retryAfterMs}.
  attempt_log jsonb NOT NULL DEFAULT '[]',
  output jsonb,
  last_error jsonb,
  lease_owner text,
  -- When the effect is next due: the next attempt while pending, the lease expiry while running.
  due_at timestamptz,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  finished_at timestamptz
);
CREATE INDEX effects_due_idx ON :SCHEMA.effects (due_at) WHERE status IN ('pending', 'running');
CREATE INDEX effects_instance_idx ON :SCHEMA.effects (instance_id);

-- One row per applied event: history, live events, metrics.
CREATE TABLE :SCHEMA.journal (
  instance_id uuid NOT NULL REFERENCES :SCHEMA.instances (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  event_type text NOT NULL,
  event jsonb NOT NULL,
  from_value jsonb,
  to_value jsonb NOT NULL,
  at timestamptz NOT NULL,
  PRIMARY KEY (instance_id, seq)
);

-- Wake-ups. Channel names carry the schema so that two engines in one database do not wake each other.
-- Transition tables let a statement that inserted nothing due (a step with no timers, an effect its
-- own worker claimed in the step) stay quiet.
CREATE FUNCTION :SCHEMA.notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows) THEN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_wake', '');
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER events_wake AFTER INSERT ON :SCHEMA.events REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION :SCHEMA.notify_events();
CREATE FUNCTION :SCHEMA.notify_effects() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE status = 'pending') THEN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_effects', '');
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER effects_wake AFTER INSERT ON :SCHEMA.effects REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION :SCHEMA.notify_effects();

-- Step notifications feed subscribe() and waitFor() in every process.
CREATE FUNCTION :SCHEMA.notify_step() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(TG_TABLE_SCHEMA || '_steps', NEW.id::text || ':' || NEW.version::text);
  RETURN NULL;
END
$$;
CREATE TRIGGER instances_step AFTER INSERT OR UPDATE OF version, status ON :SCHEMA.instances
  FOR EACH ROW EXECUTE FUNCTION :SCHEMA.notify_step();
