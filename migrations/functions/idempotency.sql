-- idempotency.sql — Idempotency-Key for requests that create something.
--
-- A create function that honours the header calls idem_begin() first and
-- idem_finish() last, in its own transaction:
--
--     SELECT * INTO prior FROM idem_begin(p_actor, p_key, 'POST /api/v1/results', p_hash);
--     IF prior.status IS NOT NULL THEN            -- a replay: the first answer again
--         RETURN QUERY SELECT prior.status, prior.response, true; RETURN;
--     END IF;
--     ... the change, its audit entry ...
--     PERFORM idem_finish(p_actor, p_key, 201, v_body);
--     RETURN QUERY SELECT 201, v_body, false;
--
-- and returns (status int, body text, replayed boolean); the server's
-- idem_reply() sends that.  A key is scoped to its user; it is kept for
-- idempotency_ttl_h hours.  The same key with another route or body is 422.
-- Concurrent requests with one key serialise on the key's row: the second
-- waits for the first to commit and then gets its answer; if the first
-- failed, nothing was stored and the second runs as new.

-- Reserve the key or fetch the answer stored under it.  (NULL, NULL) means
-- "new: go ahead"; a key of NULL (no header) always goes ahead.
CREATE FUNCTION idem_begin(p_user bigint, p_key text, p_route text, p_hash text,
                           OUT status integer, OUT response text)
LANGUAGE plpgsql AS $$
DECLARE
    k idempotency_keys;
    ttl interval := make_interval(hours => setting_int('idempotency_ttl_h', 24)::int);
BEGIN
    IF p_key IS NULL THEN
        RETURN;
    END IF;
    DELETE FROM idempotency_keys i WHERE i.user_id = p_user AND i.key = p_key AND i.created_at < now() - ttl;
    INSERT INTO idempotency_keys (user_id, key, route, request_hash)
    VALUES (p_user, p_key, p_route, p_hash)
    ON CONFLICT (user_id, key) DO NOTHING;
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO k FROM idempotency_keys i WHERE i.user_id = p_user AND i.key = p_key;
    IF k.route <> p_route OR k.request_hash <> p_hash THEN
        PERFORM yz_raise(422, 'this Idempotency-Key was used with another request; use a new key for a new request',
                         'Idempotency-Key', 'key_reused');
    END IF;
    status := k.status;
    response := k.response;
END $$;

CREATE FUNCTION idem_finish(p_user bigint, p_key text, p_status integer, p_response text) RETURNS void
LANGUAGE sql AS $$
    UPDATE idempotency_keys SET status = p_status, response = p_response
    WHERE p_key IS NOT NULL AND user_id = p_user AND key = p_key
$$;

CREATE FUNCTION idem_sweep() RETURNS integer
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM idempotency_keys
        WHERE created_at < now() - make_interval(hours => setting_int('idempotency_ttl_h', 24)::int)
        RETURNING 1)
    SELECT count(*)::int FROM gone
$$;

