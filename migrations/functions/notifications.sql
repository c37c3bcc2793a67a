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
-- recipient exactly once, and not at all when the change is rolled back.
-- Recipients who opted in to e-mail (users.email_notifications) of a kind
-- mail_kind_label() names also get one mail_outbox row each, in the same
-- transaction; the mail thread (server/api/mail.c) sends them.
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

-- The e-mail of the message centre ------------------------------------------------
-- The kinds that go by e-mail, and the event each names in the subject (NULL:
-- not mailed).  contract_reminder is e-mail only (mail_remind).
CREATE FUNCTION mail_kind_label(p_kind text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_kind
        WHEN 'contract_returned' THEN '技术合同退回补正'
        WHEN 'contract_reminder' THEN '补正期限提醒'
        WHEN 'contract_registered' THEN '技术合同已登记'
        WHEN 'contract_refused' THEN '技术合同不予登记'
        WHEN 'inquiry' THEN '收到交易意向'
        WHEN 'agreed' THEN '洽谈达成一致'
        WHEN 'auction_won' THEN '竞价成交'
        WHEN 'outbid' THEN '出价被超过'
        WHEN 'objection' THEN '公示收到异议'
    END
$$;

-- The web page of what a notification is about (the path after #, as the
-- 消息 page opens it: web/app/pages/deals.js noteHref).
CREATE FUNCTION mail_web_path(p_ref_kind text, p_ref bigint, p_data jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_ref_kind
        WHEN 'need' THEN '/needs/' || p_ref
        WHEN 'inquiry' THEN '/inquiries/' || p_ref
        WHEN 'contract' THEN '/contracts/' || p_ref
        WHEN 'notice' THEN '/results/' || coalesce(p_data->>'result_id', '')
        WHEN 'auction' THEN '/results/' || coalesce(p_data->>'result_id', '')
        ELSE '/results/' || p_ref END
$$;

-- The text of an e-mail before its link (the mail thread adds the link under
-- YIZHAN_PUBLIC_URL and the footer): the event, the title, the deadline and
-- the other facts the event carries.
CREATE FUNCTION mail_body(p_name text, p_kind text, p_title text, p_data jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT concat_ws(E'\n',
        p_name || '，您好：', '',
        '事项：' || mail_kind_label(p_kind),
        '内容：' || p_title,
        CASE WHEN p_data ? 'due_on' THEN '补正期限：' || (p_data->>'due_on') || '（请在此日期前补正后重新提交）' END,
        CASE WHEN p_data ? 'reason' THEN '退回原因：' || (p_data->>'reason') END,
        CASE WHEN p_data ? 'registration_no' THEN '登记编号：' || (p_data->>'registration_no') END,
        CASE WHEN p_data ? 'ground_label' THEN '不予登记理由：' || (p_data->>'ground_label') END,
        CASE WHEN p_data ? 'detail' THEN '说明：' || (p_data->>'detail') END)
$$;

-- Queue the e-mail of one event to the opted-in users among p_users.
CREATE FUNCTION mail_enqueue(p_users bigint[], p_kind text, p_ref_kind text, p_ref bigint, p_title text,
                             p_data jsonb, p_dedupe text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n int;
BEGIN
    IF mail_kind_label(p_kind) IS NULL THEN
        RETURN 0;
    END IF;
    INSERT INTO mail_outbox (user_id, to_addr, kind, subject, body, link_path, dedupe_key)
    SELECT u.id, u.email, p_kind, '【驿站】' || p_title, mail_body(u.display_name, p_kind, p_title, p_data),
           mail_web_path(p_ref_kind, p_ref, p_data), p_dedupe || ':' || u.id
    FROM users u
    WHERE u.id = ANY (p_users) AND u.active AND u.email_notifications
    ORDER BY u.id
    ON CONFLICT (dedupe_key) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM pg_notify('mail_outbox', '');
    END IF;
    RETURN n;
END $$;

-- The reminder three working days before a 补正 deadline: for every
-- returned contract whose correction_due_on is p_today or later and whose
-- third working day before it is p_today or earlier (a sweep that missed a
-- day still reminds before the deadline), to the opted-in users of the
-- applicant's organisation; once per contract and deadline (dedupe_key), so
-- the sweep may run as often as it likes.  Returns the e-mails queued.
CREATE FUNCTION mail_remind(p_today date DEFAULT today_cn()) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    c record;
    n int := 0;
BEGIN
    FOR c IN
        SELECT k.id, k.title, k.correction_due_on, k.applicant_org_id FROM contracts k
        WHERE k.status = 'returned' AND k.correction_due_on >= p_today
          AND add_working_days(k.correction_due_on, -3) <= p_today
        ORDER BY k.id
    LOOP
        n := n + mail_enqueue(ARRAY(SELECT u.id FROM users u WHERE u.org_id = c.applicant_org_id),
                              'contract_reminder', 'contract', c.id,
                              format('技术合同补正期限将至：%s，请于 %s 前补正后重新提交', c.title,
                                     to_char(c.correction_due_on, 'YYYY-MM-DD')),
                              jsonb_build_object('due_on', c.correction_due_on),
                              format('reminder:%s:%s', c.id, c.correction_due_on));
    END LOOP;
    RETURN n;
END $$;

-- What came of one attempt (p_error NULL: the SMTP server accepted it):
-- sent, or the next attempt after p_backoff_s * 2^(attempts-1) seconds (at
-- most an hour, ±20 %), or failed after p_max_attempts.  Returns the status.
CREATE FUNCTION mail_record(p_id bigint, p_error text, p_backoff_s float8, p_max_attempts int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o mail_outbox;
BEGIN
    UPDATE mail_outbox SET attempts = attempts + 1, last_error = left(p_error, 500)
    WHERE id = p_id RETURNING * INTO o;
    IF p_error IS NULL THEN
        UPDATE mail_outbox SET status = 'sent', sent_at = now() WHERE id = p_id;
        RETURN 'sent';
    ELSIF o.attempts >= p_max_attempts THEN
        UPDATE mail_outbox SET status = 'failed' WHERE id = p_id;
        RETURN 'failed';
    END IF;
    UPDATE mail_outbox
    SET next_attempt_at = now() + make_interval(secs => least(3600, p_backoff_s * 2 ^ (o.attempts - 1))
                                                       * (0.8 + 0.4 * random()))
    WHERE id = p_id;
    RETURN 'pending';
END $$;

-- The sweep: pending e-mails older than mail_pending_max_hours are dropped
-- (no SMTP server configured, or down that long: old news), sent and failed
-- ones after 30 days.  Returns the rows dropped.
CREATE FUNCTION mail_sweep() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n int;
BEGIN
    DELETE FROM mail_outbox
    WHERE (status = 'pending' AND created_at < now() - make_interval(hours => setting_int('mail_pending_max_hours', 72)::int))
       OR (status <> 'pending' AND created_at < now() - interval '30 days');
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

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
    IF mail_kind_label(p_kind) IS NOT NULL THEN
        PERFORM mail_enqueue(ARRAY(SELECT u.id FROM users u
                                   WHERE (u.org_id = ANY (coalesce(p_orgs, '{}')) OR u.id = ANY (coalesce(p_users, '{}')))
                                     AND u.id IS DISTINCT FROM p_actor),
                             p_kind, p_ref_kind, p_ref, p_title, d);
    END IF;
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
