-- Child machines: an instance invoked or spawned by another is a row of its own that knows its
-- parent and the invocation id the parent knows it by. Removing a parent removes its children.
ALTER TABLE :SCHEMA.instances ADD COLUMN parent_id uuid REFERENCES :SCHEMA.instances (id) ON DELETE CASCADE;
ALTER TABLE :SCHEMA.instances ADD COLUMN parent_child_id text;
CREATE INDEX instances_parent_idx ON :SCHEMA.instances (parent_id) WHERE parent_id IS NOT NULL;
