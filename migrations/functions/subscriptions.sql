-- subscriptions.sql — saved searches, their notifications (kind
-- subscription_match in the message centre, notifications.sql) and the
-- webhook outbox.
--
-- When a result is published or a need opens (market_*_change approve),
-- market_notify() runs in the same transaction: every active subscription
-- whose saved search matches the new listing gets a notification, and where
-- the subscriber's org has a webhook_url (and the subscription wants it) a row
-- in webhook_outbox.  The server's delivery thread (server/api/market_bg.c)
-- sends those rows over HTTP, signed with HMAC-SHA256 under the org's secret;
-- a row is marked delivered only after a 2xx, else retried with exponential
-- backoff.  Rows are claimed with FOR UPDATE SKIP LOCKED, so several servers
-- never send one row at the same time, and since the outbox is a table a
-- restart loses nothing (a delivery interrupted mid-way is sent again: the
-- receiver deduplicates on X-Yizhan-Delivery).

-- The org's signing key, made on first use from the server's strong random
-- source (gen_random_uuid is pg_strong_random underneath: 244 random bits).
CREATE FUNCTION webhook_secret_for(p_org bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    s text;
BEGIN
    INSERT INTO webhook_secrets (org_id, secret)
    VALUES (p_org, 'whsec_' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''))
    ON CONFLICT (org_id) DO NOTHING;
    SELECT secret INTO s FROM webhook_secrets WHERE org_id = p_org;
    RETURN s;
END $$;

CREATE FUNCTION webhook_secret_rotate(p_actor bigint, p_req text, p_org bigint, p_secret text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_secrets (org_id, secret) VALUES (p_org, p_secret)
    ON CONFLICT (org_id) DO UPDATE SET secret = excluded.secret, created_at = now();
    PERFORM audit_append(p_actor, p_req, 'org', p_org::text, 'webhook_secret_rotate', NULL, NULL);
    RETURN json_build_object('secret', p_secret, 'created_at', now())::text;
END $$;

-- The org's webhook as its members see it: URL, key, recent deliveries.
CREATE FUNCTION webhook_info(p_org bigint) RETURNS text
LANGUAGE sql AS $$
    SELECT json_build_object(
        'url', (SELECT webhook_url FROM orgs WHERE id = p_org),
        'secret', webhook_secret_for(p_org),
        'signature', 'X-Yizhan-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>',
        'deliveries', (SELECT coalesce(json_agg(json_build_object(
                            'id', o.id, 'event', o.event, 'status', o.status, 'attempts', o.attempts,
                            'next_attempt_at', CASE WHEN o.status = 'pending' THEN o.next_attempt_at END,
                            'last_status', o.last_status, 'last_error', o.last_error,
                            'created_at', o.created_at, 'delivered_at', o.delivered_at) ORDER BY o.id DESC), '[]')
                       FROM (SELECT * FROM webhook_outbox WHERE org_id = p_org ORDER BY id DESC LIMIT 20) o)
    )::text
$$;

-- Subscriptions ---------------------------------------------------------------
CREATE FUNCTION subscription_json(s subscriptions) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', s.id, 'name', s.name, 'query', s.query, 'webhook', s.webhook,
                             'created_at', s.created_at)
$$;

CREATE FUNCTION subscription_create(p_actor bigint, p_req text, p_name text, p_query jsonb, p_tsq text,
                                    p_patterns jsonb, p_price_min bigint, p_price_max bigint, p_webhook boolean,
                                    p_idem_key text, p_idem_hash text)
RETURNS TABLE (status integer, body text, replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    prior record;
    s subscriptions;
    v_body text;
BEGIN
    SELECT * INTO prior FROM idem_begin(p_actor, p_idem_key, 'POST /api/v1/subscriptions', p_idem_hash);
    IF prior.status IS NOT NULL THEN
        RETURN QUERY SELECT prior.status, prior.response, true;
        RETURN;
    END IF;
    PERFORM 1 FROM users WHERE id = p_actor FOR UPDATE;  -- the count below is per user
    IF (SELECT count(*) FROM subscriptions WHERE user_id = p_actor)
       >= setting_int('subscriptions_per_user_max', 50) THEN
        PERFORM yz_raise(409, 'you have saved as many searches as allowed; delete one first', 'name', 'too_many');
    END IF;
    PERFORM check_code('domains', p_query->>'domain', 'domain');
    PERFORM check_code('org_types', p_query->>'holder_type', 'holder_type');
    PERFORM check_region(p_query->>'region', 'region');
    IF p_query ? 'mode' AND NOT EXISTS (SELECT 1 FROM codes WHERE list IN ('transfer_modes', 'cooperation_modes')
                                                       AND code = p_query->>'mode' AND active) THEN
        PERFORM yz_raise(422, format('%s is not a transfer or cooperation mode', p_query->>'mode'), 'mode',
                         'unknown_code');
    END IF;
    INSERT INTO subscriptions (user_id, name, query, tsq, patterns, price_min, price_max, webhook)
    VALUES (p_actor, p_name, p_query, nullif(p_tsq, '')::tsquery, market_text_array(p_patterns), p_price_min,
            p_price_max, coalesce(p_webhook, true))
    RETURNING * INTO s;
    PERFORM audit_append(p_actor, p_req, 'subscription', s.id::text, 'create', NULL, to_jsonb(subscription_json(s)));
    v_body := subscription_json(s)::text;
    PERFORM idem_finish(p_actor, p_idem_key, 201, v_body);
    RETURN QUERY SELECT 201, v_body, false;
END $$;

CREATE FUNCTION subscription_delete(p_actor bigint, p_req text, p_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    s subscriptions;
BEGIN
    DELETE FROM subscriptions WHERE id = p_id AND user_id = p_actor RETURNING * INTO s;
    IF NOT FOUND THEN
        PERFORM yz_raise(404, 'no such subscription');
    END IF;
    PERFORM audit_append(p_actor, p_req, 'subscription', p_id::text, 'delete', to_jsonb(subscription_json(s)), NULL);
END $$;

-- A listing became public: notify matching saved searches (not the poster's
-- own org), queue webhooks, wake the delivery thread.
CREATE FUNCTION market_notify(p_kind text, p_id bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    k_notes int;
    k_hooks int;
BEGIN
    WITH d AS (
        SELECT * FROM search_docs WHERE kind = p_kind AND ref_id = p_id
    ), hits AS (
        SELECT s.id AS sub_id, s.user_id, s.name AS sub_name, s.webhook, u.org_id AS sub_org,
               d.domain, d.region_code, d.published_at
        FROM d, subscriptions s JOIN users u ON u.id = s.user_id AND u.active
        WHERE (s.tsq IS NULL OR d.tsv @@ s.tsq)
          AND d.doc LIKE ALL (s.patterns)
          AND search_price_meets(d.price_lo, d.price_hi, s.price_min, s.price_max)
          AND u.org_id IS DISTINCT FROM d.org_id
    ), notes AS (
        INSERT INTO notifications (user_id, subscription_id, kind, ref_kind, ref_id, title)
        SELECT h.user_id, h.sub_id, 'subscription_match', p_kind, p_id,
               coalesce((SELECT title FROM results WHERE p_kind = 'result' AND id = p_id),
                        (SELECT title FROM needs WHERE p_kind = 'need' AND id = p_id))
        FROM hits h
        ON CONFLICT (subscription_id, ref_kind, ref_id) DO NOTHING
        RETURNING id, subscription_id, title, created_at
    ), hooks AS (
        INSERT INTO webhook_outbox (org_id, event, payload)
        SELECT h.sub_org, 'subscription.match', jsonb_build_object(
                   'event', 'subscription.match', 'notification_id', n.id, 'created_at', n.created_at,
                   'subscription', jsonb_build_object('id', h.sub_id, 'name', h.sub_name),
                   'item', jsonb_build_object('kind', p_kind, 'id', p_id, 'title', n.title,
                                              'url', format('/api/v1/%ss/%s', p_kind, p_id),
                                              'domain', h.domain, 'region_code', h.region_code,
                                              'published_at', h.published_at))
        FROM notes n JOIN hits h ON h.sub_id = n.subscription_id
        JOIN orgs o ON o.id = h.sub_org
        WHERE h.webhook AND o.webhook_url IS NOT NULL
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM notes), (SELECT count(*) FROM hooks) INTO k_notes, k_hooks;
    IF k_hooks > 0 THEN
        PERFORM pg_notify('webhook_outbox', '');
    END IF;
    RETURN k_notes;
END $$;

-- Webhook delivery (the server's delivery thread) --------------------------------

-- After an attempt: delivered on 2xx, else the next try after
-- base * 2^(attempts-1) seconds (capped, +/- 20 % jitter), failed after the
-- last allowed attempt.
CREATE FUNCTION webhook_record(p_id bigint, p_http_status integer, p_error text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    o webhook_outbox;
    base float8 := setting_int('webhook_backoff_base_s', 30);
    cap float8 := setting_int('webhook_backoff_max_s', 3600);
    tries int := setting_int('webhook_max_attempts', 10);
BEGIN
    UPDATE webhook_outbox SET attempts = attempts + 1, last_status = p_http_status, last_error = left(p_error, 300)
    WHERE id = p_id RETURNING * INTO o;
    IF p_http_status BETWEEN 200 AND 299 THEN
        UPDATE webhook_outbox SET status = 'delivered', delivered_at = now(), last_error = NULL WHERE id = p_id;
    ELSIF o.attempts >= tries THEN
        UPDATE webhook_outbox SET status = 'failed' WHERE id = p_id;
    ELSE
        UPDATE webhook_outbox
        SET next_attempt_at = now() + make_interval(secs => least(cap, base * 2 ^ (o.attempts - 1))
                                                           * (0.8 + 0.4 * random()))
        WHERE id = p_id;
    END IF;
END $$;

