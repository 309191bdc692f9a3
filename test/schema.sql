table dedupe_keys
  instance_id uuid not null
  key text not null
  created_at timestamp with time zone not null
table effects
  id bigint not null default nextval(':SCHEMA.effects_id_seq'::regclass)
  instance_id uuid not null
  kind text not null
  machine text not null
  child_id text
  service text not null
  input jsonb
  idempotency_key text not null
  status text not null
  attempts integer not null default 0
  attempt_log jsonb not null default '[]'::jsonb
  output jsonb
  last_error jsonb
  lease_owner text
  due_at timestamp with time zone
  created_at timestamp with time zone not null
  updated_at timestamp with time zone not null
  finished_at timestamp with time zone
table events
  id bigint not null default nextval(':SCHEMA.events_id_seq'::regclass)
  instance_id uuid not null
  event jsonb not null
  timer_id text
  source_effect text
  available_at timestamp with time zone not null
  created_at timestamp with time zone not null
table instances
  id uuid not null
  machine text not null
  machine_version integer not null
  snapshot jsonb not null
  status text not null
  error jsonb
  version integer not null default 0
  invocations jsonb not null default '{}'::jsonb
  idempotency_key text
  wake_at timestamp with time zone
  step_failures integer not null default 0
  created_at timestamp with time zone not null
  updated_at timestamp with time zone not null
  parent_id uuid
  parent_child_id text
table journal
  instance_id uuid not null
  seq integer not null
  event_type text not null
  event jsonb not null
  from_value jsonb
  to_value jsonb not null
  at timestamp with time zone not null
table migrations
  scope text not null
  id integer not null
  name text not null
  applied_at timestamp with time zone not null default now()
  breaking boolean not null default false
table workers
  id text not null
  alive_until timestamp with time zone not null
  backend_pid integer
  backend_start timestamp with time zone
constraint :SCHEMA.dedupe_keys dedupe_keys_instance_id_fkey FOREIGN KEY (instance_id) REFERENCES :SCHEMA.instances(id) ON DELETE CASCADE
constraint :SCHEMA.dedupe_keys dedupe_keys_pkey PRIMARY KEY (instance_id, key)
constraint :SCHEMA.effects effects_idempotency_key_key UNIQUE (idempotency_key)
constraint :SCHEMA.effects effects_instance_id_fkey FOREIGN KEY (instance_id) REFERENCES :SCHEMA.instances(id) ON DELETE CASCADE
constraint :SCHEMA.effects effects_kind_check CHECK ((kind = ANY (ARRAY['invoke'::text, 'action'::text, 'emit'::text])))
constraint :SCHEMA.effects effects_pkey PRIMARY KEY (id)
constraint :SCHEMA.effects effects_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'running'::text, 'done'::text, 'failed'::text, 'canceled'::text])))
constraint :SCHEMA.events events_instance_id_fkey FOREIGN KEY (instance_id) REFERENCES :SCHEMA.instances(id) ON DELETE CASCADE
constraint :SCHEMA.events events_pkey PRIMARY KEY (id)
constraint :SCHEMA.instances instances_idempotency_key_key UNIQUE (idempotency_key)
constraint :SCHEMA.instances instances_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES :SCHEMA.instances(id) ON DELETE CASCADE
constraint :SCHEMA.instances instances_pkey PRIMARY KEY (id)
constraint :SCHEMA.instances instances_status_check CHECK ((status = ANY (ARRAY['active'::text, 'done'::text, 'error'::text, 'stopped'::text])))
constraint :SCHEMA.journal journal_instance_id_fkey FOREIGN KEY (instance_id) REFERENCES :SCHEMA.instances(id) ON DELETE CASCADE
constraint :SCHEMA.journal journal_pkey PRIMARY KEY (instance_id, seq)
constraint :SCHEMA.migrations migrations_pkey PRIMARY KEY (scope, id)
constraint :SCHEMA.workers workers_pkey PRIMARY KEY (id)
index CREATE UNIQUE INDEX dedupe_keys_pkey ON :SCHEMA.dedupe_keys USING btree (instance_id, key)
index CREATE INDEX effects_due_idx ON :SCHEMA.effects USING btree (due_at) WHERE (status = ANY (ARRAY['pending'::text, 'running'::text]))
index CREATE UNIQUE INDEX effects_idempotency_key_key ON :SCHEMA.effects USING btree (idempotency_key)
index CREATE INDEX effects_instance_idx ON :SCHEMA.effects USING btree (instance_id)
index CREATE INDEX effects_owner_idx ON :SCHEMA.effects USING btree (lease_owner) WHERE (status = 'running'::text)
index CREATE UNIQUE INDEX effects_pkey ON :SCHEMA.effects USING btree (id)
index CREATE INDEX events_instance_idx ON :SCHEMA.events USING btree (instance_id, available_at, id)
index CREATE UNIQUE INDEX events_pkey ON :SCHEMA.events USING btree (id)
index CREATE INDEX events_timer_idx ON :SCHEMA.events USING btree (instance_id, timer_id) WHERE (timer_id IS NOT NULL)
index CREATE UNIQUE INDEX instances_idempotency_key_key ON :SCHEMA.instances USING btree (idempotency_key)
index CREATE INDEX instances_machine_idx ON :SCHEMA.instances USING btree (machine, status)
index CREATE INDEX instances_parent_idx ON :SCHEMA.instances USING btree (parent_id) WHERE (parent_id IS NOT NULL)
index CREATE UNIQUE INDEX instances_pkey ON :SCHEMA.instances USING btree (id)
index CREATE INDEX instances_wake_idx ON :SCHEMA.instances USING btree (wake_at) WHERE (wake_at IS NOT NULL)
index CREATE UNIQUE INDEX journal_pkey ON :SCHEMA.journal USING btree (instance_id, seq)
index CREATE UNIQUE INDEX migrations_pkey ON :SCHEMA.migrations USING btree (scope, id)
index CREATE UNIQUE INDEX workers_pkey ON :SCHEMA.workers USING btree (id)
trigger CREATE TRIGGER effects_wake AFTER INSERT ON :SCHEMA.effects REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION :SCHEMA.notify_effects()
trigger CREATE TRIGGER events_wake AFTER INSERT ON :SCHEMA.events REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION :SCHEMA.notify_events()
trigger CREATE TRIGGER instances_step AFTER INSERT OR UPDATE OF version, status ON :SCHEMA.instances FOR EACH ROW EXECUTE FUNCTION :SCHEMA.notify_step()
function notify_effects
function notify_events
function notify_step
