-- Liveness of worker processes, so that a dead worker's effects move at once instead of when their
-- leases run out. Each worker's lease keeper upserts its row every 250 ms: on PostgreSQL from a thread
-- with its own connection, whose backend (pid and start time) dies with the process; elsewhere (PGlite,
-- a manual clock) only a heartbeat, alive_until. A row whose backend is gone, or that has no backend
-- and whose alive_until has passed, is a dead worker: its running effects are made due.
CREATE TABLE :SCHEMA.workers (
  id text PRIMARY KEY,
  alive_until timestamptz NOT NULL,
  backend_pid integer,
  backend_start timestamptz
);
-- The sweep finds the running effects of a dead worker by their owner.
CREATE INDEX effects_owner_idx ON :SCHEMA.effects (lease_owner) WHERE status = 'running';
