-- notifications.sql — the message centre (消息): one table, one way in.
--
-- Whatever happens that a person should hear about — a saved search matched a
-- new listing, an inquiry arrived, the other side proposed or accepted a price,
-- a public notice started or was objected to, a bid was beaten, an auction
-- closed, a contract was returned for correction or registered — the function
-- that made the change calls notify() in the same transaction.  notify() writes
-- one row of `notifications` per recipient user (each has their own read
-- state), never to the user who acted, and queues one webhook delivery per
-- addressed organisation that has a webhook URL (webhook_outbox, sent by the
-- delivery thread, server/api/market_bg.c).  So an event reaches each
-- recipient exactly once, and not at all when the change is rolled back.  A
-- mail worker reads the same rows (kind, title, data, the user's address).
--
-- Who gets which kind (org = every active user of that organisation):
--
--   subscription_match   the owner of the saved search              (subscriptions.sql)
--   inquiry              the other party's org                       deals.sql
--   message              the other party's org and the admitted broker; a broker's message: both orgs
--   proposal             the other party's org and the admitted broker
--   agreed               both orgs and the admitted broker (a purchase: the holder's org)
--   declined             the other party's org and the admitted broker
--   expired              both orgs
--   broker_request       the other party's org (it must consent)
--   broker_admitted      the broker and the org that brought them
--   broker_removed       the broker (when admitted before) and the other party's org
--   notice               both orgs
--   objection            both orgs
--   objection_decided    both orgs
--   notice_passed        both orgs
--   notice_failed        both orgs
--   bid                  the holder's org
--   outbid               the org that led before (when another org beat it)
--   auction_won          the winner's org
--   auction_lost         every other org that bid
--   auction_closed       the holder's org
--   contract_draft       both orgs
--   contract_returned    the applicant's org (data: due_on, reason)    contracts.sql
--   contract_registered  every party's org with an account (data: registration_no)
--   contract_refused     the applicant's org (data: ground)
--   contract_change_decided  the applicant's org (data: change_kind, decision)

-- The tab of the 消息 page a kind belongs to.
CREATE FUNCTION notification_category(p_kind text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_kind = 'subscription_match' THEN 'subscription'
                WHEN p_kind IN ('contract_returned', 'contract_registered', 'contract_refused', 'contract_change_decided')
                    THEN 'registration'
                ELSE 'deal' END
$$;

-- The webhook event name of a kind: subscription.match, deal.<kind>,
-- registration.<returned|registered|refused|change_decided>.
CREATE FUNCTION notification_event(p_kind text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE notification_category(p_kind)
               WHEN 'subscription' THEN 'subscription.match'
               WHEN 'registration' THEN 'registration.' || substr(p_kind, length('contract_') + 1)
               ELSE 'deal.' || p_kind END
$$;

-- The API path of what a notification is about.
CREATE FUNCTION notification_url(p_ref_kind text, p_ref bigint, p_data jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '/api/v1/' || CASE p_ref_kind
        WHEN 'auction' THEN 'results/' || (p_data->>'result_id') || '/auction'
        WHEN 'inquiry' THEN 'inquiries/' || p_ref
        ELSE p_ref_kind || 's/' || p_ref END
$$;

-- Send one event.  p_orgs: organisations addressed (each active user of each
-- gets a row, and each org with a webhook URL one delivery); p_users: people
-- addressed personally (a broker); p_actor (who caused it) gets nothing.
-- Returns the number of rows written.
CREATE FUNCTION notify(p_kind text, p_ref_kind text, p_ref bigint, p_title text, p_data jsonb,
                       p_orgs bigint[], p_users bigint[] DEFAULT NULL, p_actor bigint DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n_rows int;
    n_hooks int;
    d jsonb := coalesce(p_data, '{}');
BEGIN
    WITH rcpt AS (
        SELECT u.id, CASE WHEN u.org_id = ANY (coalesce(p_orgs, '{}')) THEN u.org_id END AS org_id
        FROM users u
        WHERE u.active AND (u.org_id = ANY (coalesce(p_orgs, '{}')) OR u.id = ANY (coalesce(p_users, '{}')))
          AND u.id IS DISTINCT FROM p_actor
    ), ins AS (
        INSERT INTO notifications (user_id, org_id, kind, ref_kind, ref_id, title, data)
        SELECT r.id, r.org_id, p_kind, p_ref_kind, p_ref, p_title, d FROM rcpt r ORDER BY r.id
        RETURNING 1
    )
    SELECT count(*) INTO n_rows FROM ins;
    WITH hooks AS (
        INSERT INTO webhook_outbox (org_id, event, payload)
        SELECT o.id, notification_event(p_kind), jsonb_build_object(
                   'event', notification_event(p_kind), 'kind', p_kind, 'title', p_title,
                   'item', jsonb_build_object('kind', p_ref_kind, 'id', p_ref, 'url', notification_url(p_ref_kind, p_ref, d)),
                   'data', d, 'created_at', now())
        FROM orgs o
        WHERE o.id = ANY (coalesce(p_orgs, '{}')) AND o.webhook_url IS NOT NULL
        ORDER BY o.id
        RETURNING 1
    )
    SELECT count(*) INTO n_hooks FROM hooks;
    IF n_hooks > 0 THEN
        PERFORM pg_notify('webhook_outbox', '');
    END IF;
    RETURN n_rows;
END $$;

CREATE FUNCTION notification_json(n notifications) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', n.id, 'kind', n.kind, 'category', notification_category(n.kind),
                             'ref_kind', n.ref_kind, 'ref_id', n.ref_id, 'title', n.title,
                             'url', notification_url(n.ref_kind, n.ref_id, n.data), 'data', n.data, 'org_id', n.org_id,
                             'subscription', (SELECT json_build_object('id', s.id, 'name', s.name)
                                              FROM subscriptions s WHERE s.id = n.subscription_id),
                             'created_at', n.created_at, 'read_at', n.read_at)
$$;

-- Mark every unread notification of the user read (those up to p_upto when
-- given: what the page showed, not what arrived since).
CREATE FUNCTION notifications_read_all(p_user bigint, p_upto bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    k int;
BEGIN
    UPDATE notifications SET read_at = now()
    WHERE user_id = p_user AND read_at IS NULL AND (p_upto IS NULL OR id <= p_upto);
    GET DIAGNOSTICS k = ROW_COUNT;
    RETURN json_build_object('marked', k,
                             'unread', (SELECT count(*) FROM notifications WHERE user_id = p_user AND read_at IS NULL))::text;
END $$;
