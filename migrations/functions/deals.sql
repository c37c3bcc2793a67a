-- deals.sql — deal flow — inquiries (意向/洽谈) and their messages, offer and
-- acceptance, brokers admitted by consent, public notices (公示) with
-- objections, listed-price purchase (挂牌), auctions (拍卖/竞价) with bids, and
-- the contract draft every concluded deal produces.
--
-- Every change is one function that checks who may act and the state, writes
-- the audit entry and notifies (notify(), notifications.sql) in one
-- transaction.  A negotiated deal needs both parties: agreeing to a price is
-- that side's proposal, and the deal concludes only when one side accepts
-- exactly the price the other side last proposed; the inquiry row is locked
-- (FOR UPDATE) first, so two acceptances racing each other are judged one
-- after the other and conclude once.  Time-based transitions (an inquiry
-- expiring, a notice ending, an auction closing) are made by deal_sweep(),
-- which every instance runs every second: rows are taken with FOR UPDATE SKIP
-- LOCKED, so two instances never close the same thing, and an auction that
-- ended while the server was down closes on the first sweep.

-- JSON forms --------------------------------------------------------------
CREATE FUNCTION org_brief(p_org bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', o.id, 'name', o.name, 'org_type', o.org_type, 'region_code', o.region_code)
    FROM orgs o WHERE o.id = p_org
$$;

-- Who may read an inquiry: a member of either party, the broker once the
-- other party admitted them, an admin.  One rule for the list, the page and
-- every change (inlined by the planner).
CREATE FUNCTION inquiry_visible(i inquiries, p_org bigint, p_user bigint, p_admin boolean) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(p_admin, false) OR coalesce(p_org IN (i.seller_org_id, i.buyer_org_id), false)
        OR coalesce(i.broker_user_id = p_user AND i.broker_accepted_at IS NOT NULL, false)
$$;

-- The side an organisation acts for in an inquiry, or NULL.
CREATE FUNCTION inquiry_side(i inquiries, p_org bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_org = i.seller_org_id THEN 'seller' WHEN p_org = i.buyer_org_id THEN 'buyer' END
$$;

-- The organisation on the other side of an inquiry from p_org, or NULL when
-- p_org is neither party.
CREATE FUNCTION inquiry_other_org(i inquiries, p_org bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_org WHEN i.seller_org_id THEN i.buyer_org_id WHEN i.buyer_org_id THEN i.seller_org_id END
$$;

-- A side's standing proposal: its latest entry with a price (a proposal, an
-- acceptance, a purchase or a winning bid).
CREATE FUNCTION inquiry_proposal(p_inquiry bigint, p_side text) RETURNS inquiry_messages
LANGUAGE sql STABLE AS $$
    SELECT * FROM inquiry_messages m
    WHERE m.inquiry_id = p_inquiry AND m.side = p_side AND m.kind IN ('proposal', 'acceptance', 'purchase', 'bid_won')
    ORDER BY m.id DESC LIMIT 1
$$;

CREATE FUNCTION inquiry_proposal_json(m inquiry_messages) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN m.id IS NOT NULL THEN jsonb_build_object(
        'message_id', m.id, 'price_fen', m.price_fen, 'user_id', m.author_user_id,
        'user_name', (SELECT display_name FROM users WHERE id = m.author_user_id), 'at', m.created_at) END
$$;

CREATE FUNCTION inquiry_json(i inquiries, p_messages boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH p AS (SELECT inquiry_proposal(i.id, 'seller') AS s, inquiry_proposal(i.id, 'buyer') AS b)
    SELECT jsonb_build_object(
        'id', i.id, 'kind', i.kind, 'status', i.status,
        'result', (SELECT jsonb_build_object('id', r.id, 'title', r.title, 'pricing_mode', r.pricing_mode,
                                             'asking_price_fen', r.asking_price_fen, 'status', r.status)
                   FROM results r WHERE r.id = i.result_id),
        'need', (SELECT jsonb_build_object('id', n.id, 'title', n.title, 'status', n.status) FROM needs n WHERE n.id = i.need_id),
        'seller', org_brief(i.seller_org_id), 'buyer', org_brief(i.buyer_org_id), 'initiator_org_id', i.initiator_org_id,
        'broker_user_id', i.broker_user_id,
        'broker', (SELECT jsonb_build_object('user_id', u.id, 'name', u.display_name,
                                             'org_name', (SELECT name FROM orgs WHERE id = u.org_id),
                                             'named_by_org_id', i.broker_named_by_org_id,
                                             'status', CASE WHEN i.broker_accepted_at IS NULL THEN 'pending' ELSE 'accepted' END,
                                             'accepted_at', i.broker_accepted_at)
                   FROM users u WHERE u.id = i.broker_user_id),
        'proposals', jsonb_build_object('seller', inquiry_proposal_json((p.s)), 'buyer', inquiry_proposal_json((p.b))),
        'awaiting', CASE WHEN i.status = 'open' AND coalesce((p.s).id, 0) <> coalesce((p.b).id, 0) THEN
                             CASE WHEN coalesce((p.s).id, 0) > coalesce((p.b).id, 0) THEN 'buyer' ELSE 'seller' END END,
        'agreed_price_fen', i.agreed_price_fen,
        'last_activity_at', i.last_activity_at, 'closed_at', i.closed_at, 'close_reason', i.close_reason,
        'contract_id', i.contract_id,
        'notice', (SELECT jsonb_build_object('id', x.id, 'status', x.status, 'ends_at', x.ends_at)
                   FROM notices x WHERE x.inquiry_id = i.id ORDER BY x.id DESC LIMIT 1),
        'created_at', i.created_at, 'version', i.version)
        || CASE WHEN p_messages THEN jsonb_build_object('messages', coalesce((
               SELECT jsonb_agg(jsonb_build_object('id', m.id, 'kind', m.kind, 'side', m.side,
                      'author_org_id', m.author_org_id, 'author_user_id', m.author_user_id,
                      'author_name', (SELECT display_name FROM users WHERE id = m.author_user_id),
                      'body', m.body, 'price_fen', m.price_fen, 'created_at', m.created_at) ORDER BY m.id)
               FROM inquiry_messages m WHERE m.inquiry_id = i.id), '[]')) ELSE '{}' END
    FROM p
$$;

CREATE FUNCTION notice_json(x notices) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', x.id, 'result_id', x.result_id, 'result_title', x.result_title,
        'holder_name', x.holder_name, 'price_fen', x.price_fen, 'starts_at', x.starts_at, 'ends_at', x.ends_at,
        'status', x.status, 'objections', (SELECT count(*) FROM objections o WHERE o.notice_id = x.id),
        'upheld_objections', (SELECT count(*) FROM objections o WHERE o.notice_id = x.id AND o.status = 'upheld'),
        'pending_objections', (SELECT count(*) FROM objections o WHERE o.notice_id = x.id AND o.status = 'filed'))
$$;

-- An objection as a reviewer sees it (p_contact) or a party (without the
-- objector's contact, which is not published).
CREATE FUNCTION objection_json(o objections, p_contact boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', o.id, 'notice_id', o.notice_id, 'name', o.name,
        'contact', CASE WHEN p_contact THEN o.contact END, 'body', o.body, 'status', o.status,
        'decision_note', o.decision_note, 'decided_at', o.decided_at, 'created_at', o.created_at)
$$;

CREATE FUNCTION auction_json(a auctions, p_viewer_org bigint, p_holder boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', a.id, 'result_id', a.result_id, 'reserve_fen', CASE WHEN p_holder THEN a.reserve_fen END,
        'reserve_met', (SELECT b.amount_fen >= a.reserve_fen FROM bids b WHERE b.id = a.best_bid_id),
        'increment_fen', a.increment_fen, 'starts_at', a.starts_at, 'ends_at', a.ends_at,
        'extension_window_s', a.extension_window_s, 'extension_s', a.extension_s, 'status', a.status,
        'best_bid_fen', (SELECT b.amount_fen FROM bids b WHERE b.id = a.best_bid_id),
        'bids', (SELECT count(*) FROM bids b WHERE b.auction_id = a.id),
        'minimum_next_bid_fen', coalesce((SELECT b.amount_fen + a.increment_fen FROM bids b WHERE b.id = a.best_bid_id),
                                         greatest(a.increment_fen, 1)),
        'winner', (SELECT jsonb_build_object('bid_id', b.id, 'org', org_brief(b.bidder_org_id), 'amount_fen', b.amount_fen)
                   FROM bids b WHERE b.id = a.winner_bid_id),
        'leading', (SELECT b.bidder_org_id = p_viewer_org FROM bids b WHERE b.id = a.best_bid_id),
        'seconds_left', CASE WHEN a.status = 'open' THEN greatest(0, ceil(extract(epoch FROM a.ends_at - clock_timestamp())))::int END,
        'closed_at', a.closed_at)
$$;

-- An auction in the public list (竞价): the result, its holder and the state.
CREATE FUNCTION auction_list_json(a auctions, p_viewer_org bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT auction_json(a, p_viewer_org, false) || jsonb_build_object(
        'result', (SELECT jsonb_build_object('id', r.id, 'title', r.title, 'domain', r.domain,
                                             'domain_label', code_label('domains', r.domain), 'holder', org_brief(r.holder_org_id))
                   FROM results r WHERE r.id = a.result_id))
$$;

-- Notifications about an inquiry: data names it and its subject, so that a
-- page or an e-mail can link to both.
CREATE FUNCTION inquiry_notify(i inquiries, p_kind text, p_title text, p_orgs bigint[], p_broker boolean, p_actor bigint,
                               p_data jsonb DEFAULT '{}') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM notify(p_kind, 'inquiry', i.id, p_title,
                   jsonb_strip_nulls(jsonb_build_object('inquiry_id', i.id, 'result_id', i.result_id, 'need_id', i.need_id)
                                     || coalesce(p_data, '{}')),
                   p_orgs, CASE WHEN p_broker AND i.broker_accepted_at IS NOT NULL THEN ARRAY[i.broker_user_id] END, p_actor);
END $$;

-- The contract draft a concluded deal produces -----------------------------
CREATE FUNCTION deal_contract_draft(i inquiries, p_actor bigint, p_req text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    s orgs;
    b orgs;
    r results;
    n needs;
    c contracts;
    subtype text := 'other_transfer';
    ctype text := 'transfer';
BEGIN
    SELECT * INTO s FROM orgs WHERE id = i.seller_org_id;
    SELECT * INTO b FROM orgs WHERE id = i.buyer_org_id;
    SELECT * INTO r FROM results WHERE id = i.result_id;
    SELECT * INTO n FROM needs WHERE id = i.need_id;
    -- classification from what was offered; the seller completes and may change it
    IF r.id IS NOT NULL AND 'licence' = ANY (r.transfer_modes) AND NOT ('transfer' = ANY (r.transfer_modes)) THEN
        ctype := 'licence'; subtype := 'other_licence';
    END IF;
    INSERT INTO contracts (title, contract_type, contract_subtype, seller_org_id, seller_name, seller_org_type,
        seller_region_code, seller_credit_code, buyer_org_id, buyer_name, buyer_org_type, buyer_region_code,
        buyer_credit_code, broker_user_id, contract_amount_fen, technical_amount_fen, domain, result_id, need_id, created_by)
    VALUES (left(coalesce(r.title, n.title) || CASE WHEN ctype = 'licence' THEN '技术许可合同' ELSE '技术转让合同' END, 300),
        ctype, subtype, s.id, s.name, s.org_type, s.region_code, s.credit_code, b.id, b.name, b.org_type, b.region_code,
        b.credit_code, CASE WHEN i.broker_accepted_at IS NOT NULL THEN i.broker_user_id END, i.agreed_price_fen,
        i.agreed_price_fen, coalesce(r.domain, n.domain), i.result_id, i.need_id, p_actor)
    RETURNING * INTO c;
    UPDATE inquiries SET contract_id = c.id WHERE id = i.id;
    PERFORM audit_append(p_actor, p_req, 'contract', c.id::text, 'create_from_deal', NULL,
                         contract_json(c) || jsonb_build_object('inquiry_id', i.id));
    PERFORM notify('contract_draft', 'contract', c.id, '成交合同草稿已生成：' || c.title,
                   jsonb_build_object('inquiry_id', i.id, 'price_fen', c.contract_amount_fen),
                   ARRAY[s.id, b.id], NULL, p_actor);
    RETURN c.id;
END $$;

-- The deal is concluded at a price: a state-funded holder selling a result at
-- a negotiated price must first publish a notice (公示, 促进科技成果转化法
-- 第十八条: 通过协议定价的，应当在本单位公示科技成果名称和拟交易价格);
-- otherwise the contract draft is made at once.
CREATE FUNCTION deal_conclude(i inquiries, p_actor bigint, p_req text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    s orgs;
    r results;
    x notices;
BEGIN
    SELECT * INTO s FROM orgs WHERE id = i.seller_org_id;
    SELECT * INTO r FROM results WHERE id = i.result_id;
    IF r.id IS NOT NULL AND i.kind = 'negotiated' AND s.state_funded AND s.org_type IN ('021', '022') THEN
        INSERT INTO notices (result_id, inquiry_id, result_title, holder_name, price_fen, ends_at)
        VALUES (r.id, i.id, r.title, s.name, i.agreed_price_fen,
                now() + make_interval(days => setting_int('notice_period_days', 15)::int))
        RETURNING * INTO x;
        UPDATE results SET status = 'under_notice' WHERE id = r.id;
        PERFORM audit_append(p_actor, p_req, 'notice', x.id::text, 'publish', NULL, notice_json(x));
        PERFORM notify('notice', 'notice', x.id, '科技成果公示开始：' || r.title,
                       jsonb_build_object('result_id', r.id, 'inquiry_id', i.id, 'price_fen', x.price_fen, 'ends_at', x.ends_at),
                       ARRAY[i.seller_org_id, i.buyer_org_id], NULL, p_actor);
    ELSE
        IF r.id IS NOT NULL THEN UPDATE results SET status = 'transacted' WHERE id = r.id AND status = 'published'; END IF;
        IF i.need_id IS NOT NULL THEN UPDATE needs SET status = 'matched' WHERE id = i.need_id AND status = 'open'; END IF;
        PERFORM deal_contract_draft(i, p_actor, p_req);
    END IF;
END $$;

-- Inquiries ----------------------------------------------------------------

-- A broker a party may name: an active user with the role broker, outside both
-- organisations (a party's own staff need no consent).
CREATE FUNCTION deal_check_broker(i inquiries, p_broker bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    u users;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_broker;
    IF NOT FOUND OR NOT u.active OR u.role <> 'broker' THEN
        PERFORM yz_raise(422, 'broker_user_id must be an active technology broker', 'broker_user_id', 'unknown');
    END IF;
    IF u.org_id IN (i.seller_org_id, i.buyer_org_id) THEN
        PERFORM yz_raise(422, 'the broker works for one of the two organisations', 'broker_user_id', 'own');
    END IF;
END $$;

-- One entry of an inquiry's conversation: a message, a proposal, an
-- acceptance or a step (broker named, declined, ...), by a user for an org on
-- a side (NULL: a broker's).
CREATE FUNCTION inquiry_say(p_inquiry bigint, p_user bigint, p_org bigint, p_kind text, p_side text,
                            p_body text DEFAULT NULL, p_price bigint DEFAULT NULL) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO inquiry_messages (inquiry_id, author_user_id, author_org_id, kind, side, body, price_fen)
    VALUES (p_inquiry, p_user, p_org, p_kind, p_side, p_body, p_price)
$$;

CREATE FUNCTION inquiry_create(p_actor bigint, p_req text, p_org bigint, p_result bigint, p_need bigint,
                               p_body text, p_price bigint, p_broker bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r results;
    n needs;
    i inquiries;
    other bigint;
BEGIN
    IF (p_result IS NULL) = (p_need IS NULL) THEN
        PERFORM yz_raise(422, 'give either result_id or need_id', 'result_id', 'one_of');
    END IF;
    IF p_result IS NOT NULL THEN
        SELECT * INTO r FROM results WHERE id = p_result;
        IF NOT FOUND OR r.status <> 'published' THEN PERFORM yz_raise(404, 'no such published result', 'result_id', 'unknown'); END IF;
        IF r.holder_org_id = p_org THEN PERFORM yz_raise(422, 'this result is your own organisation''s', 'result_id', 'own'); END IF;
        INSERT INTO inquiries (result_id, seller_org_id, buyer_org_id, initiator_org_id, created_by)
        VALUES (p_result, r.holder_org_id, p_org, p_org, p_actor) RETURNING * INTO i;
    ELSE
        SELECT * INTO n FROM needs WHERE id = p_need;
        IF NOT FOUND OR n.status <> 'open' THEN PERFORM yz_raise(404, 'no such open need', 'need_id', 'unknown'); END IF;
        IF n.org_id = p_org THEN PERFORM yz_raise(422, 'this need is your own organisation''s', 'need_id', 'own'); END IF;
        INSERT INTO inquiries (need_id, seller_org_id, buyer_org_id, initiator_org_id, created_by)
        VALUES (p_need, p_org, n.org_id, p_org, p_actor) RETURNING * INTO i;
    END IF;
    other := inquiry_other_org(i, p_org);
    -- a price in the opening message is the initiator's proposal
    PERFORM inquiry_say(i.id, p_actor, p_org, CASE WHEN p_price IS NULL THEN 'message' ELSE 'proposal' END,
                        inquiry_side(i, p_org), p_body, p_price);
    IF p_broker IS NOT NULL THEN
        PERFORM deal_check_broker(i, p_broker);
        UPDATE inquiries SET broker_user_id = p_broker, broker_named_by_org_id = p_org WHERE id = i.id RETURNING * INTO i;
        PERFORM inquiry_say(i.id, p_actor, p_org, 'broker_named', inquiry_side(i, p_org));
    END IF;
    PERFORM audit_append(p_actor, p_req, 'inquiry', i.id::text, 'create', NULL, inquiry_json(i, false));
    PERFORM inquiry_notify(i, 'inquiry', '新的交易意向：' || coalesce(r.title, n.title), ARRAY[other], false, p_actor,
                           jsonb_build_object('price_fen', p_price));
    IF p_broker IS NOT NULL THEN
        PERFORM inquiry_notify(i, 'broker_request', '对方请求技术经纪人参与洽谈，请确认：' || coalesce(r.title, n.title),
                               ARRAY[other], false, p_actor, jsonb_build_object('broker_user_id', p_broker));
    END IF;
    RETURN inquiry_json(i, true)::text;
END $$;

-- Lock an inquiry the caller may see (either org, the admitted broker, an
-- admin); else 404.
CREATE FUNCTION inquiry_lock(p_id bigint, p_org bigint, p_user bigint, p_admin boolean) RETURNS inquiries
LANGUAGE plpgsql AS $$
DECLARE
    i inquiries;
BEGIN
    SELECT * INTO i FROM inquiries WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT inquiry_visible(i, p_org, p_user, p_admin) THEN
        PERFORM yz_raise(404, 'no such inquiry');
    END IF;
    RETURN i;
END $$;

-- Lock an open inquiry for a change only its two parties make (the caller's
-- side is inquiry_side(i, p_org)).
CREATE FUNCTION inquiry_lock_party(p_id bigint, p_org bigint, p_user bigint, p_admin boolean) RETURNS inquiries
LANGUAGE plpgsql AS $$
DECLARE
    i inquiries;
BEGIN
    i := inquiry_lock(p_id, p_org, p_user, p_admin);
    IF inquiry_side(i, p_org) IS NULL THEN
        PERFORM yz_raise(403, 'only the two organisations make or accept offers, decline, or admit a broker');
    END IF;
    IF i.status <> 'open' THEN
        PERFORM yz_raise(409, format('the inquiry is already %s', i.status), 'id', 'inquiry_closed');
    END IF;
    RETURN i;
END $$;

CREATE FUNCTION inquiry_message(p_actor bigint, p_req text, p_id bigint, p_org bigint, p_admin boolean,
                                p_body text, p_price bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    i inquiries;
    side text;
BEGIN
    i := inquiry_lock(p_id, p_org, p_actor, p_admin);
    IF i.status <> 'open' THEN PERFORM yz_raise(409, format('the inquiry is %s', i.status), 'id', 'inquiry_closed'); END IF;
    side := inquiry_side(i, p_org);
    -- a party's member speaks for its side; a broker (even one employed by a party) only suggests
    IF (SELECT role FROM users WHERE id = p_actor) IS DISTINCT FROM 'member' THEN
        side := NULL;
    END IF;
    -- a party's price is its proposal; a broker's is a suggestion
    PERFORM inquiry_say(i.id, p_actor, p_org,
                        CASE WHEN p_price IS NOT NULL AND side IS NOT NULL THEN 'proposal' ELSE 'message' END,
                        side, p_body, p_price);
    UPDATE inquiries SET last_activity_at = now() WHERE id = i.id RETURNING * INTO i;
    PERFORM inquiry_notify(i, 'message', '交易意向有新消息', CASE side WHEN 'seller' THEN ARRAY[i.buyer_org_id]
                           WHEN 'buyer' THEN ARRAY[i.seller_org_id] ELSE ARRAY[i.seller_org_id, i.buyer_org_id] END,
                           side IS NOT NULL, p_actor, jsonb_build_object('price_fen', p_price));
    RETURN inquiry_json(i, true)::text;
END $$;

-- Offer and acceptance.  p_decision 'agree': the caller's side accepts
-- p_price.  When that is exactly the price the other side last proposed, the
-- deal concludes; otherwise it is this side's (counter-)proposal and waits
-- for the other side (repeating one's own standing proposal changes nothing).
-- 'decline' ends the inquiry.
CREATE FUNCTION inquiry_decide(p_actor bigint, p_req text, p_id bigint, p_org bigint, p_admin boolean,
                               p_decision text, p_price bigint, p_reason text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o inquiries;
    i inquiries;
    side text;
    mine inquiry_messages;
    theirs inquiry_messages;
    other bigint;
    subject text;
BEGIN
    o := inquiry_lock_party(p_id, p_org, p_actor, p_admin);
    side := inquiry_side(o, p_org);
    other := inquiry_other_org(o, p_org);
    subject := coalesce((SELECT title FROM results WHERE id = o.result_id), (SELECT title FROM needs WHERE id = o.need_id));
    IF p_decision = 'agree' THEN
        IF p_price IS NULL OR p_price <= 0 THEN PERFORM yz_raise(422, 'must be at least 1 fen', 'price_fen', 'too_low'); END IF;
        IF o.result_id IS NOT NULL AND (SELECT status FROM results WHERE id = o.result_id) <> 'published' THEN
            PERFORM yz_raise(409, 'the result is no longer available', 'id', 'unknown');
        END IF;
        mine := inquiry_proposal(o.id, side);
        theirs := inquiry_proposal(o.id, CASE side WHEN 'seller' THEN 'buyer' ELSE 'seller' END);
        IF theirs.price_fen = p_price THEN
            -- acceptance: both sides now agree on the same price
            PERFORM inquiry_say(o.id, p_actor, p_org, 'acceptance', side, p_price => p_price);
            UPDATE inquiries SET status = 'agreed', agreed_price_fen = p_price, closed_at = now(), last_activity_at = now()
            WHERE id = o.id RETURNING * INTO i;
            PERFORM audit_append(p_actor, p_req, 'inquiry', i.id::text, 'agree', inquiry_json(o, false),
                                 inquiry_json(i, false) || jsonb_build_object('accepted_message_id', theirs.id));
            PERFORM inquiry_notify(i, 'agreed', '双方已就价格达成一致：' || subject, ARRAY[o.seller_org_id, o.buyer_org_id],
                                   true, p_actor, jsonb_build_object('price_fen', p_price));
            PERFORM deal_conclude(i, p_actor, p_req);
        ELSIF mine.price_fen = p_price AND mine.id > coalesce(theirs.id, 0) THEN
            NULL;  -- this side already proposed exactly this and is waiting
        ELSE
            PERFORM inquiry_say(o.id, p_actor, p_org, 'proposal', side, p_price => p_price);
            UPDATE inquiries SET last_activity_at = now() WHERE id = o.id RETURNING * INTO i;
            PERFORM audit_append(p_actor, p_req, 'inquiry', i.id::text, 'propose', NULL,
                                 jsonb_build_object('side', side, 'price_fen', p_price));
            PERFORM inquiry_notify(i, 'proposal', CASE WHEN theirs.id IS NULL THEN '对方提出价格，等待您确认：'
                                                       ELSE '对方提出新价格，等待您确认：' END || subject,
                                   ARRAY[other], true, p_actor, jsonb_build_object('price_fen', p_price));
        END IF;
    ELSE
        PERFORM inquiry_say(o.id, p_actor, p_org, 'declined', side, p_reason);
        UPDATE inquiries SET status = 'declined', closed_at = now(), close_reason = p_reason WHERE id = o.id RETURNING * INTO i;
        PERFORM audit_append(p_actor, p_req, 'inquiry', i.id::text, 'decline', inquiry_json(o, false), inquiry_json(i, false));
        PERFORM inquiry_notify(i, 'declined', '交易意向已被婉拒：' || subject, ARRAY[other], true, p_actor);
    END IF;
    SELECT * INTO i FROM inquiries WHERE id = o.id;
    RETURN inquiry_json(i, true)::text;
END $$;

-- Brokers by consent --------------------------------------------------------

-- A party names a broker; the other party must accept before the broker sees
-- anything.  One broker per inquiry (remove one to name another).
CREATE FUNCTION inquiry_broker_name(p_actor bigint, p_req text, p_id bigint, p_org bigint, p_broker bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    i inquiries;
    side text;
BEGIN
    i := inquiry_lock_party(p_id, p_org, p_actor, false);
    side := inquiry_side(i, p_org);
    IF i.broker_user_id IS NOT NULL THEN
        PERFORM yz_raise(409, 'the inquiry already has a broker; remove them first', 'broker_user_id', 'duplicate');
    END IF;
    PERFORM deal_check_broker(i, p_broker);
    UPDATE inquiries SET broker_user_id = p_broker, broker_named_by_org_id = p_org, broker_accepted_at = NULL,
                         last_activity_at = now()
    WHERE id = i.id RETURNING * INTO i;
    PERFORM inquiry_say(i.id, p_actor, p_org, 'broker_named', side);
    PERFORM audit_append(p_actor, p_req, 'inquiry', i.id::text, 'broker_name', NULL, jsonb_build_object('broker_user_id', p_broker));
    PERFORM inquiry_notify(i, 'broker_request', '对方请求技术经纪人参与洽谈，请确认',
                           ARRAY[inquiry_other_org(i, p_org)], false, p_actor,
                           jsonb_build_object('broker_user_id', p_broker));
    RETURN inquiry_json(i, true)::text;
END $$;

-- The other party consents to the broker.
CREATE FUNCTION inquiry_broker_accept(p_actor bigint, p_req text, p_id bigint, p_org bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    i inquiries;
    side text;
BEGIN
    i := inquiry_lock_party(p_id, p_org, p_actor, false);
    side := inquiry_side(i, p_org);
    IF i.broker_user_id IS NULL OR i.broker_accepted_at IS NOT NULL THEN
        PERFORM yz_raise(409, 'no broker is waiting for consent', 'id', 'invalid_transition');
    END IF;
    IF i.broker_named_by_org_id = p_org THEN
        PERFORM yz_raise(403, 'the other organisation consents to the broker you named');
    END IF;
    UPDATE inquiries SET broker_accepted_at = now(), last_activity_at = now() WHERE id = i.id RETURNING * INTO i;
    PERFORM inquiry_say(i.id, p_actor, p_org, 'broker_accepted', side);
    PERFORM audit_append(p_actor, p_req, 'inquiry', i.id::text, 'broker_accept', NULL,
                         jsonb_build_object('broker_user_id', i.broker_user_id));
    PERFORM inquiry_notify(i, 'broker_admitted', '技术经纪人已获双方同意参与洽谈', ARRAY[i.broker_named_by_org_id], true,
                           p_actor, jsonb_build_object('broker_user_id', i.broker_user_id));
    RETURN inquiry_json(i, true)::text;
END $$;

-- The party that brought the broker removes them (at any time); the other
-- party may refuse one still waiting for its consent.
CREATE FUNCTION inquiry_broker_remove(p_actor bigint, p_req text, p_id bigint, p_org bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o inquiries;
    i inquiries;
    side text;
BEGIN
    o := inquiry_lock_party(p_id, p_org, p_actor, false);
    side := inquiry_side(o, p_org);
    IF o.broker_user_id IS NULL THEN PERFORM yz_raise(404, 'the inquiry has no broker'); END IF;
    IF o.broker_named_by_org_id <> p_org AND o.broker_accepted_at IS NOT NULL THEN
        PERFORM yz_raise(403, 'only the organisation that brought the broker removes them');
    END IF;
    UPDATE inquiries SET broker_user_id = NULL, broker_named_by_org_id = NULL, broker_accepted_at = NULL,
                         last_activity_at = now()
    WHERE id = o.id RETURNING * INTO i;
    PERFORM inquiry_say(i.id, p_actor, p_org, 'broker_removed', side);
    PERFORM audit_append(p_actor, p_req, 'inquiry', i.id::text, 'broker_remove', NULL,
                         jsonb_build_object('broker_user_id', o.broker_user_id));
    -- o, the row before: the broker is told only if they had been admitted
    PERFORM inquiry_notify(o, 'broker_removed', '技术经纪人已退出洽谈',
                           ARRAY[inquiry_other_org(i, p_org)], true, p_actor,
                           jsonb_build_object('broker_user_id', o.broker_user_id));
    RETURN inquiry_json(i, true)::text;
END $$;

-- Listed price (挂牌): the buyer accepts the seller's standing offer, which
-- concludes the deal at once (the price was public: no notice is needed).
CREATE FUNCTION result_purchase(p_actor bigint, p_req text, p_result bigint, p_org bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r results;
    i inquiries;
BEGIN
    SELECT * INTO r FROM results WHERE id = p_result FOR UPDATE;
    IF NOT FOUND OR r.status <> 'published' THEN PERFORM yz_raise(404, 'no such published result'); END IF;
    IF r.pricing_mode IS DISTINCT FROM 'listed' OR r.asking_price_fen IS NULL THEN
        PERFORM yz_raise(409, 'this result is not offered at a listed price');
    END IF;
    IF r.holder_org_id = p_org THEN PERFORM yz_raise(422, 'this result is your own organisation''s', 'result_id', 'own'); END IF;
    INSERT INTO inquiries (result_id, seller_org_id, buyer_org_id, initiator_org_id, kind, status, agreed_price_fen,
                           closed_at, created_by)
    VALUES (r.id, r.holder_org_id, p_org, p_org, 'listed', 'agreed', r.asking_price_fen, now(), p_actor) RETURNING * INTO i;
    PERFORM inquiry_say(i.id, p_actor, p_org, 'purchase', 'buyer', '按挂牌价受让', r.asking_price_fen);
    PERFORM audit_append(p_actor, p_req, 'inquiry', i.id::text, 'purchase', NULL, inquiry_json(i, false));
    PERFORM inquiry_notify(i, 'agreed', '挂牌成果已被受让：' || r.title, ARRAY[r.holder_org_id], false, p_actor,
                           jsonb_build_object('price_fen', r.asking_price_fen));
    PERFORM deal_conclude(i, p_actor, p_req);
    SELECT * INTO i FROM inquiries WHERE id = i.id;
    RETURN inquiry_json(i, true)::text;
END $$;

-- Public notices (公示) ------------------------------------------------------
CREATE FUNCTION objection_file(p_req text, p_notice bigint, p_name text, p_contact text, p_body text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    x notices;
    o objections;
    i inquiries;
BEGIN
    x := lock_by_id(NULL::notices, p_notice, 'no such notice');
    IF x.status <> 'active' OR x.ends_at <= now() THEN PERFORM yz_raise(409, 'the notice period is over', 'id', 'expired'); END IF;
    SELECT * INTO i FROM inquiries WHERE id = x.inquiry_id;
    INSERT INTO objections (notice_id, name, contact, body) VALUES (p_notice, p_name, p_contact, p_body) RETURNING * INTO o;
    PERFORM audit_append(NULL, p_req, 'notice', p_notice::text, 'objection', NULL,
                         jsonb_build_object('objection_id', o.id, 'name', o.name));
    PERFORM notify('objection', 'notice', x.id, '公示收到异议：' || x.result_title,
                   jsonb_build_object('result_id', x.result_id, 'inquiry_id', x.inquiry_id, 'objection_id', o.id),
                   ARRAY[i.seller_org_id, i.buyer_org_id]);
    RETURN jsonb_build_object('id', o.id, 'notice_id', o.notice_id, 'status', o.status, 'created_at', o.created_at)::text;
END $$;

CREATE FUNCTION objection_decide(p_actor bigint, p_req text, p_notice bigint, p_objection bigint, p_decision text,
                                 p_note text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o objections;
    x notices;
    i inquiries;
BEGIN
    SELECT * INTO o FROM objections WHERE id = p_objection AND notice_id = p_notice FOR UPDATE;
    IF NOT FOUND THEN PERFORM yz_raise(404, 'no such objection'); END IF;
    IF o.status <> 'filed' THEN PERFORM yz_raise(409, format('the objection was already %s', o.status), 'oid', 'invalid_transition'); END IF;
    IF p_decision NOT IN ('upheld', 'dismissed') THEN
        PERFORM yz_raise(422, 'decision must be upheld or dismissed', 'decision', 'invalid');
    END IF;
    UPDATE objections SET status = p_decision, decided_by = p_actor, decided_at = now(), decision_note = p_note
    WHERE id = o.id RETURNING * INTO o;
    SELECT * INTO x FROM notices WHERE id = o.notice_id;
    SELECT * INTO i FROM inquiries WHERE id = x.inquiry_id;
    PERFORM audit_append(p_actor, p_req, 'notice', p_notice::text, 'objection_' || p_decision, NULL,
                         jsonb_build_object('objection_id', o.id, 'note', p_note));
    PERFORM notify('objection_decided', 'notice', x.id,
                   CASE p_decision WHEN 'upheld' THEN '公示异议成立：' ELSE '公示异议不成立：' END || x.result_title,
                   jsonb_build_object('result_id', x.result_id, 'inquiry_id', x.inquiry_id, 'objection_id', o.id,
                                      'decision', p_decision),
                   ARRAY[i.seller_org_id, i.buyer_org_id], NULL, p_actor);
    RETURN jsonb_build_object('id', o.id, 'notice_id', o.notice_id, 'status', o.status, 'decided_at', o.decided_at)::text;
END $$;

-- Auctions (拍卖/竞价) --------------------------------------------------------
CREATE FUNCTION auction_open(p_actor bigint, p_req text, p_result bigint, p_org bigint, p_admin boolean,
                             p_reserve bigint, p_increment bigint, p_ends timestamptz, p_window int, p_ext int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r results;
    a auctions;
BEGIN
    SELECT * INTO r FROM results WHERE id = p_result FOR UPDATE;
    IF NOT FOUND OR NOT (coalesce(p_admin, false) OR coalesce(r.holder_org_id = p_org, false)) THEN
        PERFORM yz_raise(404, 'no such result');
    END IF;
    IF r.status <> 'published' THEN PERFORM yz_raise(409, 'only a published result can be auctioned'); END IF;
    IF r.pricing_mode IS DISTINCT FROM 'auction' THEN PERFORM yz_raise(409, 'the result is not offered by auction (pricing_mode)'); END IF;
    IF EXISTS (SELECT 1 FROM auctions WHERE result_id = p_result AND status = 'open') THEN
        PERFORM yz_raise(409, 'an auction of this result is already open');
    END IF;
    IF p_ends < now() + make_interval(secs => setting_int('auction_min_duration_s', 60)) OR
       p_ends > now() + make_interval(days => setting_int('auction_max_duration_days', 90)::int) THEN
        PERFORM yz_raise(422, format('the end time must be from %s seconds to %s days from now',
                                     setting_int('auction_min_duration_s', 60), setting_int('auction_max_duration_days', 90)),
                         'ends_at', 'out_of_range');
    END IF;
    INSERT INTO auctions (result_id, reserve_fen, increment_fen, ends_at, extension_window_s, extension_s, created_by)
    VALUES (p_result, p_reserve, p_increment, p_ends, p_window, p_ext, p_actor) RETURNING * INTO a;
    PERFORM audit_append(p_actor, p_req, 'auction', a.id::text, 'open', NULL, to_jsonb(a));
    RETURN auction_json(a, p_org, true)::text;
END $$;

-- One bid.  The auction row is locked, so concurrent bids are decided one by
-- one: each must beat the best so far by the increment, before the end; a bid
-- in the last window pushes the end back.
CREATE FUNCTION bid_place(p_actor bigint, p_req text, p_result bigint, p_org bigint, p_amount bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    a auctions;
    r results;
    b bids;
    best bigint;
    prev_leader bigint;
    data jsonb;
BEGIN
    SELECT * INTO a FROM auctions WHERE result_id = p_result AND status = 'open' FOR UPDATE;
    IF NOT FOUND THEN PERFORM yz_raise(404, 'no open auction for this result'); END IF;
    SELECT * INTO r FROM results WHERE id = p_result;
    IF r.holder_org_id = p_org THEN PERFORM yz_raise(403, 'the holder cannot bid on its own result', 'id', 'own'); END IF;
    IF clock_timestamp() >= a.ends_at THEN PERFORM yz_raise(409, 'the auction has ended', 'id', 'auction_ended'); END IF;
    SELECT amount_fen, bidder_org_id INTO best, prev_leader FROM bids WHERE id = a.best_bid_id;
    IF p_amount IS NULL OR p_amount < coalesce(best + a.increment_fen, greatest(a.increment_fen, 1)) THEN
        PERFORM yz_raise(422, format('the bid must be at least %s fen', coalesce(best + a.increment_fen, greatest(a.increment_fen, 1))),
                         'amount_fen', 'too_low');
    END IF;
    INSERT INTO bids (auction_id, bidder_org_id, bidder_user_id, amount_fen) VALUES (a.id, p_org, p_actor, p_amount)
    RETURNING * INTO b;
    UPDATE auctions SET best_bid_id = b.id,
        ends_at = CASE WHEN a.ends_at - clock_timestamp() <= make_interval(secs => a.extension_window_s)
                       THEN greatest(a.ends_at, clock_timestamp() + make_interval(secs => a.extension_s)) ELSE a.ends_at END
    WHERE id = a.id RETURNING * INTO a;
    PERFORM audit_append(p_actor, p_req, 'auction', a.id::text, 'bid', NULL,
                         jsonb_build_object('bid_id', b.id, 'org_id', p_org, 'amount_fen', p_amount, 'ends_at', a.ends_at));
    data := jsonb_build_object('result_id', r.id, 'auction_id', a.id, 'amount_fen', p_amount, 'ends_at', a.ends_at);
    PERFORM notify('bid', 'auction', a.id, '竞价有新出价：' || r.title, data, ARRAY[r.holder_org_id], NULL, p_actor);
    IF prev_leader IS NOT NULL AND prev_leader <> p_org THEN
        PERFORM notify('outbid', 'auction', a.id, '您的出价已被超过：' || r.title, data, ARRAY[prev_leader], NULL, p_actor);
    END IF;
    RETURN (auction_json(a, p_org, false) || jsonb_build_object('bid', jsonb_build_object('id', b.id, 'amount_fen', b.amount_fen,
            'created_at', b.created_at)))::text;
END $$;

CREATE FUNCTION auction_close(a auctions) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    b bids;
    r results;
    i inquiries;
    losers bigint[];
    data jsonb;
BEGIN
    SELECT * INTO b FROM bids WHERE auction_id = a.id ORDER BY amount_fen DESC, id LIMIT 1;
    SELECT * INTO r FROM results WHERE id = a.result_id FOR UPDATE;
    data := jsonb_build_object('result_id', r.id, 'auction_id', a.id, 'amount_fen', b.amount_fen);
    IF b.id IS NOT NULL AND b.amount_fen >= a.reserve_fen AND r.status = 'published' THEN
        UPDATE auctions SET status = 'closed', closed_at = now(), winner_bid_id = b.id WHERE id = a.id;
        INSERT INTO inquiries (result_id, seller_org_id, buyer_org_id, initiator_org_id, kind, status, agreed_price_fen,
                               closed_at, created_by)
        VALUES (r.id, r.holder_org_id, b.bidder_org_id, b.bidder_org_id, 'auction', 'agreed', b.amount_fen, now(), b.bidder_user_id)
        RETURNING * INTO i;
        PERFORM inquiry_say(i.id, b.bidder_user_id, b.bidder_org_id, 'bid_won', 'buyer', '竞价成交', b.amount_fen);
        PERFORM audit_append(NULL, 'auction-close', 'auction', a.id::text, 'won', NULL,
                             jsonb_build_object('bid_id', b.id, 'org_id', b.bidder_org_id, 'amount_fen', b.amount_fen));
        PERFORM notify('auction_won', 'auction', a.id, '竞价成交，您的出价最高：' || r.title, data || jsonb_build_object('inquiry_id', i.id),
                       ARRAY[b.bidder_org_id]);
        PERFORM notify('auction_closed', 'auction', a.id, '竞价成交：' || r.title, data || jsonb_build_object('inquiry_id', i.id),
                       ARRAY[r.holder_org_id]);
        PERFORM deal_conclude(i, NULL, 'auction-close');
    ELSE
        UPDATE auctions SET status = 'closed', closed_at = now() WHERE id = a.id;
        PERFORM audit_append(NULL, 'auction-close', 'auction', a.id::text, 'closed_without_winner', NULL,
                             jsonb_build_object('best_bid_fen', b.amount_fen, 'reserve_fen', a.reserve_fen));
        PERFORM notify('auction_closed', 'auction', a.id, '竞价结束，未能成交：' || r.title, data, ARRAY[r.holder_org_id]);
    END IF;
    SELECT array_agg(DISTINCT x.bidder_org_id) INTO losers FROM bids x
    WHERE x.auction_id = a.id AND x.bidder_org_id IS DISTINCT FROM CASE WHEN i.id IS NOT NULL THEN b.bidder_org_id END;
    IF losers IS NOT NULL THEN
        PERFORM notify('auction_lost', 'auction', a.id, '竞价结束，您未中标：' || r.title, data, losers);
    END IF;
END $$;

-- The sweeper: every instance calls this every second. -----------------------
CREATE FUNCTION deal_sweep() RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    a auctions;
    x notices;
    i inquiries;
    n_auctions int := 0;
    n_notices int := 0;
    n_inquiries int := 0;
    inactive interval := make_interval(days => setting_int('inquiry_inactivity_days', 30)::int);
    data jsonb;
BEGIN
    FOR a IN SELECT * FROM auctions WHERE status = 'open' AND ends_at <= clock_timestamp()
             ORDER BY ends_at LIMIT 100 FOR UPDATE SKIP LOCKED LOOP
        PERFORM auction_close(a);
        n_auctions := n_auctions + 1;
    END LOOP;
    FOR x IN SELECT * FROM notices WHERE status = 'active' AND ends_at <= now()
             ORDER BY ends_at LIMIT 100 FOR UPDATE SKIP LOCKED LOOP
        SELECT * INTO i FROM inquiries WHERE id = x.inquiry_id;
        data := jsonb_build_object('result_id', x.result_id, 'inquiry_id', x.inquiry_id, 'price_fen', x.price_fen);
        IF EXISTS (SELECT 1 FROM objections WHERE notice_id = x.id AND status = 'upheld') THEN
            UPDATE notices SET status = 'failed', closed_at = now() WHERE id = x.id;
            UPDATE results SET status = 'published' WHERE id = x.result_id AND status = 'under_notice';
            PERFORM audit_append(NULL, 'notice-close', 'notice', x.id::text, 'failed', NULL, notice_json(x));
            PERFORM notify('notice_failed', 'notice', x.id, '公示异议成立，交易未能成交：' || x.result_title, data,
                           ARRAY[i.seller_org_id, i.buyer_org_id]);
        ELSIF EXISTS (SELECT 1 FROM objections WHERE notice_id = x.id AND status = 'filed') THEN
            CONTINUE;  -- wait until every objection is decided
        ELSE
            UPDATE notices SET status = 'passed', closed_at = now() WHERE id = x.id;
            UPDATE results SET status = 'transacted' WHERE id = x.result_id AND status = 'under_notice';
            PERFORM audit_append(NULL, 'notice-close', 'notice', x.id::text, 'passed', NULL, notice_json(x));
            PERFORM notify('notice_passed', 'notice', x.id, '公示期满无异议：' || x.result_title, data,
                           ARRAY[i.seller_org_id, i.buyer_org_id]);
            PERFORM deal_contract_draft(i, NULL, 'notice-close');
        END IF;
        n_notices := n_notices + 1;
    END LOOP;
    FOR i IN SELECT * FROM inquiries WHERE status = 'open' AND last_activity_at <= now() - inactive
             ORDER BY last_activity_at LIMIT 100 FOR UPDATE SKIP LOCKED LOOP
        UPDATE inquiries SET status = 'expired', closed_at = now(), close_reason = 'inactive' WHERE id = i.id;
        PERFORM audit_append(NULL, 'inquiry-expire', 'inquiry', i.id::text, 'expire', NULL, NULL);
        PERFORM inquiry_notify(i, 'expired', '交易意向因长期无进展已过期', ARRAY[i.seller_org_id, i.buyer_org_id], false, NULL);
        n_inquiries := n_inquiries + 1;
    END LOOP;
    RETURN jsonb_build_object('auctions', n_auctions, 'notices', n_notices, 'inquiries', n_inquiries);
END $$;
