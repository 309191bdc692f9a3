-- Shared budgets: per-tenant upload rates, provider rates (tokens and requests per window),
-- provider concurrency (calls in flight) and provider pauses after a 429. Every server and worker process
-- reads and writes these rows, so the limits hold for the fleet, not per process; every time here
-- is the database's clock, so hosts with skewed clocks agree. `:SCHEMA` is the quoted schema name.

-- One row per budget (`embedder`, `parser`, `upload:<tenant>`): the lock that orders its grants,
-- and the time until which a provider that answered 429 is left alone.
CREATE TABLE :SCHEMA.budgets (
  key text PRIMARY KEY,
  paused_until timestamptz
);

-- One row per call (or upload) let through. In flight (`done` false), `until` is a lease its
-- process renews while the call runs, so a SIGKILLed worker's call stops counting as in flight
-- when the lease lapses; finished, `until` is when it finished. A call counts against a rate's
-- window until a window after it finished: the vendor saw it arrive somewhere between its grant
-- and its end, and however long it took to get there, the window it arrived in is covered.
CREATE TABLE :SCHEMA.budget_grants (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key text NOT NULL,
  at timestamptz NOT NULL,
  until timestamptz NOT NULL,
  done boolean NOT NULL,
  tokens bigint NOT NULL,
  requests integer NOT NULL
);
CREATE INDEX budget_grants_key_until_idx ON :SCHEMA.budget_grants (key, until);

-- Lets a call through now, or says how long to wait and why. Now: when the budget is not paused
-- (`p_pausable`), fewer than `p_concurrency` calls are in flight, and the tokens (and the count) of
-- the calls counting in the window ending now, plus this one's, are within `p_token_limit` per
-- `p_token_window_ms` (and `p_request_limit` per `p_request_window_ms`). A null limit is none.
-- `p_in_flight`: the grant is a call that runs until released (leased for `p_lease_ms`); else an
-- instant (an upload). Otherwise nothing is written and `wait_ms` is the earliest time worth
-- asking again, supposing the calls in flight end now: the caller asks again then (or sooner).
--
-- A plpgsql function, so the budget row's lock is taken first and the statements after it see
-- every grant committed before the lock was granted (one statement would read with the snapshot
-- taken before it waited, and miss them). One round trip per call.
CREATE FUNCTION :SCHEMA.acquire_budget(
  p_key text, p_tokens bigint, p_token_limit bigint, p_token_window_ms bigint,
  p_request_limit bigint, p_request_window_ms bigint, p_concurrency integer,
  p_in_flight boolean, p_lease_ms bigint, p_pausable boolean
) RETURNS TABLE (grant_id bigint, wait_ms double precision, reason text, too_large boolean)
LANGUAGE plpgsql AS $$
DECLARE
  v_now timestamptz;
  v_paused timestamptz;
  v_wait double precision := 0;
  v_reason text;
  v_fit timestamptz;
  v_id bigint;
  v_keep bigint := greatest(coalesce(p_token_window_ms, 0), coalesce(p_request_window_ms, 0));
BEGIN
  IF p_token_limit IS NOT NULL AND p_tokens > p_token_limit THEN
    RETURN QUERY SELECT NULL::bigint, 0::double precision, 'tokens'::text, true;
    RETURN;
  END IF;
  INSERT INTO :SCHEMA.budgets (key) VALUES (p_key) ON CONFLICT DO NOTHING;
  SELECT b.paused_until INTO v_paused FROM :SCHEMA.budgets b WHERE b.key = p_key FOR UPDATE;
  v_now := clock_timestamp();
  DELETE FROM :SCHEMA.budget_grants g WHERE g.key = p_key AND g.until <= v_now - make_interval(secs => v_keep / 1000.0);
  IF p_pausable AND v_paused > v_now THEN
    RETURN QUERY SELECT NULL::bigint, (extract(epoch FROM v_paused - v_now) * 1000)::double precision, 'pause'::text, false;
    RETURN;
  END IF;
  IF p_concurrency IS NOT NULL
     AND (SELECT count(*) FROM :SCHEMA.budget_grants g WHERE g.key = p_key AND NOT g.done AND g.until > v_now) >= p_concurrency THEN
    RETURN QUERY SELECT NULL::bigint, 0::double precision, 'concurrency'::text, false;
    RETURN;
  END IF;
  -- The earliest time the window ending then has room, supposing the calls in flight end now:
  -- once enough of the grants counting have left it (a grant leaves a window `w` after it ended).
  IF p_token_limit IS NOT NULL THEN
    SELECT CASE WHEN coalesce(max(s.total), 0) + p_tokens <= p_token_limit THEN NULL
                ELSE min(s.ended) FILTER (WHERE s.total - s.passed + p_tokens <= p_token_limit) + make_interval(secs => p_token_window_ms / 1000.0) END
      INTO v_fit
      FROM (SELECT e.ended, sum(e.tokens) OVER (ORDER BY e.ended) AS passed, sum(e.tokens) OVER () AS total
              FROM (SELECT least(g.until, v_now) AS ended, g.tokens FROM :SCHEMA.budget_grants g
                     WHERE g.key = p_key AND g.until > v_now - make_interval(secs => p_token_window_ms / 1000.0)) e) s;
    IF v_fit IS NOT NULL THEN
      v_wait := extract(epoch FROM v_fit - v_now) * 1000;
      v_reason := 'rate';
    END IF;
  END IF;
  IF p_request_limit IS NOT NULL THEN
    SELECT CASE WHEN coalesce(max(s.total), 0) + 1 <= p_request_limit THEN NULL
                ELSE min(s.ended) FILTER (WHERE s.total - s.passed + 1 <= p_request_limit) + make_interval(secs => p_request_window_ms / 1000.0) END
      INTO v_fit
      FROM (SELECT e.ended, sum(e.requests) OVER (ORDER BY e.ended) AS passed, sum(e.requests) OVER () AS total
              FROM (SELECT least(g.until, v_now) AS ended, g.requests FROM :SCHEMA.budget_grants g
                     WHERE g.key = p_key AND g.until > v_now - make_interval(secs => p_request_window_ms / 1000.0)) e) s;
    IF v_fit IS NOT NULL THEN
      v_wait := greatest(v_wait, extract(epoch FROM v_fit - v_now) * 1000);
      v_reason := 'rate';
    END IF;
  END IF;
  IF v_reason IS NOT NULL THEN
    RETURN QUERY SELECT NULL::bigint, greatest(v_wait, 1)::double precision, v_reason, false;
    RETURN;
  END IF;
  INSERT INTO :SCHEMA.budget_grants (key, at, until, done, tokens, requests)
    VALUES (p_key, v_now, CASE WHEN p_in_flight THEN v_now + make_interval(secs => p_lease_ms / 1000.0) ELSE v_now END, NOT p_in_flight, p_tokens, 1)
    RETURNING id INTO v_id;
  RETURN QUERY SELECT v_id, 0::double precision, NULL::text, false;
END
$$;
