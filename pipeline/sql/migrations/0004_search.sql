-- Search over the chunks' embeddings (POST /v1/search). Where pgvector exists (PGlite, most managed
-- Postgres), an HNSW index answers nearest-neighbour queries; where it does not (Debian's
-- PostgreSQL 15), the pipeline scans exactly and nothing is created here.
--
-- The embedding column is an untyped `vector` (its size is a setting, EMBEDDING_DIMENSIONS), and
-- HNSW indexes vectors of one fixed size only, at most 2000 dimensions. So each index is a partial
-- expression index for one size: `ensure_search_index(dims)` makes it once (the pipeline calls it
-- at start with its configured size when SEARCH_INDEX asks for it; two processes starting at once
-- take turns on a lock). A query uses the index when it casts to that size and filters on
-- `vector_dims(embedding) = dims`, as pipeline/search.ts does.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
    EXECUTE $f$
      CREATE FUNCTION :SCHEMA.ensure_search_index(dims integer) RETURNS boolean LANGUAGE plpgsql AS $fn$
      BEGIN
        IF dims < 1 OR dims > 2000 THEN
          RETURN false;
        END IF;
        PERFORM pg_advisory_xact_lock(hashtext('docket.upload_pipeline.search_index'));
        EXECUTE format(
          'CREATE INDEX IF NOT EXISTS %I ON :SCHEMA.chunks USING hnsw ((embedding::vector(%s)) vector_cosine_ops) WHERE vector_dims(embedding) = %s',
          'chunks_embedding_hnsw_' || dims, dims, dims);
        RETURN true;
      END
      $fn$
    $f$;
  END IF;
END
$$;
