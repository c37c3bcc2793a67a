-- accounts.sql — organisations, users, registry offices and invitations as
-- the API sees them; self-service registration; rate limits; refresh tokens.
-- Every change goes through one function that also writes the audit entry, so
-- a change and its audit record commit together or not at all.

CREATE FUNCTION auth_token_lifetime() RETURNS interval LANGUAGE sql STABLE AS $$
    SELECT make_interval(days => setting_int('refresh_token_days', 30)::int)
$$;

-- Sign-in succeeded (the password was checked by the server): start a family.
CREATE FUNCTION auth_login(p_user bigint, p_hash text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    fam bigint;
BEGIN
    INSERT INTO refresh_tokens (family_id, user_id, token_hash, expires_at)
    VALUES (0, p_user, p_hash, now() + auth_token_lifetime())
    RETURNING id INTO fam;
    UPDATE refresh_tokens SET family_id = fam WHERE id = fam;
    UPDATE users SET last_login_at = now() WHERE id = p_user;
END $$;

-- Rotate: returns ('ok', user) | ('replay', NULL) | ('invalid', NULL).
CREATE FUNCTION auth_refresh(p_old text, p_new text, OUT outcome text, OUT user_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t refresh_tokens;
BEGIN
    SELECT * INTO t FROM refresh_tokens WHERE token_hash = p_old FOR UPDATE;
    IF NOT FOUND OR t.revoked_at IS NOT NULL OR t.expires_at <= now() THEN
        outcome := 'invalid';
        RETURN;
    END IF;
    IF t.used_at IS NOT NULL THEN
        UPDATE refresh_tokens SET revoked_at = now(), revoke_reason = 'replay'
        WHERE family_id = t.family_id AND revoked_at IS NULL;
        outcome := 'replay';
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id AND u.active AND u.password_changed_at <= t.created_at) THEN
        UPDATE refresh_tokens SET revoked_at = now(), revoke_reason = 'user' WHERE family_id = t.family_id AND revoked_at IS NULL;
        outcome := 'invalid';
        RETURN;
    END IF;
    UPDATE refresh_tokens SET used_at = now() WHERE id = t.id;
    INSERT INTO refresh_tokens (family_id, user_id, token_hash, expires_at)
    VALUES (t.family_id, t.user_id, p_new, now() + auth_token_lifetime());
    outcome := 'ok';
    user_id := t.user_id;
END $$;

-- Logout: revoke the family of the presented token (unknown tokens: no-op).
CREATE FUNCTION auth_logout(p_hash text) RETURNS void
LANGUAGE sql AS $$
    UPDATE refresh_tokens SET revoked_at = now(), revoke_reason = 'logout'
    WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = p_hash) AND revoked_at IS NULL
$$;

-- Count one hit against the limit named by setting p_setting for key p_key.
-- Returns 0 when allowed, else the seconds until the window resets.
CREATE FUNCTION rate_hit(p_setting text, p_key text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    cfg jsonb := (SELECT value FROM settings WHERE key = p_setting);
    lim int := coalesce((cfg->>'max')::int, 1000000);
    win int := coalesce((cfg->>'window_s')::int, 60);
    r rate_limits;
BEGIN
    INSERT INTO rate_limits AS t (key, window_start, hits, expires_at)
    VALUES (p_setting || ':' || p_key, now(), 1, now() + make_interval(secs => win))
    ON CONFLICT (key) DO UPDATE SET
        window_start = CASE WHEN t.window_start + make_interval(secs => win) <= now() THEN now() ELSE t.window_start END,
        hits = CASE WHEN t.window_start + make_interval(secs => win) <= now() THEN 1 ELSE t.hits + 1 END,
        expires_at = CASE WHEN t.window_start + make_interval(secs => win) <= now() THEN now()
                          ELSE t.window_start END + make_interval(secs => win)
    RETURNING * INTO r;
    IF r.hits > lim THEN
        RETURN greatest(1, ceil(extract(epoch FROM r.window_start + make_interval(secs => win) - now()))::int);
    END IF;
    RETURN 0;
END $$;

-- Take back one hit counted by rate_hit in the current window: sign-in
-- counts every attempt when it starts (so a flood is refused before any
-- password is hashed) and gives the hit back when the password was right,
-- so that only failed attempts lock an account or an address.
CREATE FUNCTION rate_refund(p_setting text, p_key text) RETURNS void
LANGUAGE sql AS $$
    UPDATE rate_limits SET hits = hits - 1
    WHERE key = p_setting || ':' || p_key AND hits > 0 AND expires_at > now()
$$;

-- Forget the counters whose window has ended (a new hit starts a new window
-- anyway); run by every instance's background sweep (api/market_bg.c).
CREATE FUNCTION rate_limits_sweep() RETURNS integer
LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM rate_limits WHERE expires_at <= now() RETURNING 1)
    SELECT count(*)::int FROM gone
$$;

-- JSON forms -------------------------------------------------------------
CREATE FUNCTION org_json(o orgs) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', o.id, 'name', o.name, 'name_en', o.name_en,
        'org_type', o.org_type, 'org_type_label', (SELECT label FROM codes WHERE list = 'org_types' AND code = o.org_type),
        'credit_code', o.credit_code, 'region_code', o.region_code,
        'region_name', (SELECT name FROM regions WHERE code = o.region_code),
        'state_funded', o.state_funded, 'status', o.verification_status, 'verified_at', o.verified_at,
        'verification_note', o.verification_note, 'description', o.description, 'address', o.address,
        'website', o.website, 'contact_name', o.contact_name, 'contact_phone', o.contact_phone,
        'contact_email', o.contact_email, 'webhook_url', o.webhook_url,
        'created_at', o.created_at, 'updated_at', o.updated_at, 'version', o.version)
$$;

CREATE FUNCTION user_json(u users) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', u.id, 'email', u.email, 'display_name', u.display_name, 'phone', u.phone, 'role', u.role,
        'org_id', u.org_id, 'office_id', u.office_id, 'region_code', u.region_code, 'active', u.active,
        'email_notifications', u.email_notifications,
        'created_at', u.created_at, 'updated_at', u.updated_at, 'last_login_at', u.last_login_at,
        'version', u.version)
$$;

-- The signed-in user's own account (GET /me): who they are, their
-- organisation or office, and whether they get e-mail.
CREATE FUNCTION me_json(p_user bigint) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', u.id, 'email', u.email, 'display_name', u.display_name, 'role', u.role,
        'org', (SELECT json_build_object('id', o.id, 'name', o.name, 'org_type', o.org_type, 'region_code',
                o.region_code, 'status', o.verification_status) FROM orgs o WHERE o.id = u.org_id),
        'office', (SELECT json_build_object('id', f.id, 'name', f.name, 'region_code', f.region_code)
                   FROM registry_offices f WHERE f.id = u.office_id),
        'region_code', u.region_code, 'email_notifications', u.email_notifications)
    FROM users u WHERE u.id = p_user
$$;

-- PATCH /me: the user's own e-mail opt-in (audited).  Returns me_json.
CREATE FUNCTION me_update(p_actor bigint, p_req text, p_email_notifications boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o users;
    n users;
BEGIN
    SELECT * INTO o FROM users WHERE id = p_actor AND active FOR UPDATE;
    IF NOT FOUND THEN PERFORM yz_raise(404, 'no such user'); END IF;
    UPDATE users SET email_notifications = p_email_notifications WHERE id = p_actor RETURNING * INTO n;
    IF n.email_notifications IS DISTINCT FROM o.email_notifications THEN
        PERFORM audit_append(p_actor, p_req, 'user', p_actor::text, 'email_notifications', user_json(o), user_json(n));
    END IF;
    RETURN me_json(p_actor)::text;
END $$;

CREATE FUNCTION office_json(f registry_offices) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT to_jsonb(f) - 'created_at' - 'updated_at'
        || jsonb_build_object('region_name', (SELECT name FROM regions WHERE code = f.region_code))
$$;

-- Organisations ----------------------------------------------------------

-- Insert an org from a validated JSON object (keys checked by the server).
CREATE FUNCTION org_insert(p_actor bigint, p_req text, b jsonb, p_field_prefix text DEFAULT '') RETURNS orgs
LANGUAGE plpgsql AS $$
DECLARE
    o orgs;
BEGIN
    PERFORM check_code('org_types', b->>'org_type', p_field_prefix || 'org_type');
    PERFORM check_region(b->>'region_code', p_field_prefix || 'region_code');
    IF b->>'credit_code' IS NOT NULL AND EXISTS (SELECT 1 FROM orgs WHERE credit_code = b->>'credit_code') THEN
        PERFORM yz_raise(409, 'an organisation with this unified social credit code is already registered',
                         p_field_prefix || 'credit_code', 'duplicate');
    END IF;
    INSERT INTO orgs (name, name_en, org_type, credit_code, region_code, state_funded, description, address,
                      website, contact_name, contact_phone, contact_email, webhook_url)
    VALUES (b->>'name', b->>'name_en', b->>'org_type', b->>'credit_code', b->>'region_code',
            coalesce((b->>'state_funded')::boolean, false), b->>'description', b->>'address', b->>'website',
            b->>'contact_name', b->>'contact_phone', b->>'contact_email', b->>'webhook_url')
    RETURNING * INTO o;
    PERFORM audit_append(p_actor, p_req, 'org', o.id::text, 'create', NULL, org_json(o));
    RETURN o;
END $$;

CREATE FUNCTION org_create(p_actor bigint, p_req text, b jsonb) RETURNS text
LANGUAGE sql AS $$ SELECT org_json(org_insert(p_actor, p_req, b))::text $$;

-- Update: p_full allows the identity fields (admin); members edit contact data.
CREATE FUNCTION org_update(p_actor bigint, p_req text, p_id bigint, p_scope_org bigint, p_if_match int,
                           b jsonb, p_full boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o orgs;
    n orgs;
BEGIN
    SELECT * INTO o FROM orgs WHERE id = p_id AND (p_scope_org IS NULL OR id = p_scope_org) FOR UPDATE;
    IF NOT FOUND THEN PERFORM yz_raise(404, 'no such organisation'); END IF;
    PERFORM check_if_match(p_if_match, o.version, 'organisation');
    IF NOT p_full AND (b ?| ARRAY['name', 'org_type', 'credit_code', 'region_code', 'state_funded']) THEN
        PERFORM yz_raise(403, 'only an administrator may change the name, type, code, region or funding',
                         (SELECT k FROM jsonb_object_keys(b) k WHERE k IN ('name', 'org_type', 'credit_code', 'region_code', 'state_funded') LIMIT 1),
                         'forbidden_field');
    END IF;
    PERFORM check_code('org_types', b->>'org_type', 'org_type');
    PERFORM check_region(b->>'region_code', 'region_code');
    IF b ? 'credit_code' AND EXISTS (SELECT 1 FROM orgs WHERE credit_code = b->>'credit_code' AND id <> p_id) THEN
        PERFORM yz_raise(409, 'an organisation with this unified social credit code is already registered',
                         'credit_code', 'duplicate');
    END IF;
    UPDATE orgs SET
        name = CASE WHEN b ? 'name' THEN b->>'name' ELSE name END,
        name_en = CASE WHEN b ? 'name_en' THEN b->>'name_en' ELSE name_en END,
        org_type = CASE WHEN b ? 'org_type' THEN b->>'org_type' ELSE org_type END,
        credit_code = CASE WHEN b ? 'credit_code' THEN b->>'credit_code' ELSE credit_code END,
        region_code = CASE WHEN b ? 'region_code' THEN b->>'region_code' ELSE region_code END,
        state_funded = CASE WHEN b ? 'state_funded' THEN (b->>'state_funded')::boolean ELSE state_funded END,
        description = CASE WHEN b ? 'description' THEN b->>'description' ELSE description END,
        address = CASE WHEN b ? 'address' THEN b->>'address' ELSE address END,
        website = CASE WHEN b ? 'website' THEN b->>'website' ELSE website END,
        contact_name = CASE WHEN b ? 'contact_name' THEN b->>'contact_name' ELSE contact_name END,
        contact_phone = CASE WHEN b ? 'contact_phone' THEN b->>'contact_phone' ELSE contact_phone END,
        contact_email = CASE WHEN b ? 'contact_email' THEN b->>'contact_email' ELSE contact_email END,
        webhook_url = CASE WHEN b ? 'webhook_url' THEN b->>'webhook_url' ELSE webhook_url END,
        -- a changed identity must be verified again
        verification_status = CASE WHEN b ?| ARRAY['name', 'org_type', 'credit_code'] THEN 'pending' ELSE verification_status END,
        verified_at = CASE WHEN b ?| ARRAY['name', 'org_type', 'credit_code'] THEN NULL ELSE verified_at END
    WHERE id = p_id RETURNING * INTO n;
    RETURN audit_returning(p_actor, p_req, 'org', p_id::text, 'update', org_json(o), org_json(n));
END $$;

CREATE FUNCTION org_verify(p_actor bigint, p_req text, p_id bigint, p_decision text, p_note text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o orgs;
    n orgs;
BEGIN
    IF p_decision NOT IN ('verified', 'rejected') THEN
        PERFORM yz_raise(422, 'decision must be verified or rejected', 'decision', 'invalid');
    END IF;
    IF p_decision = 'rejected' AND coalesce(btrim(p_note), '') = '' THEN
        PERFORM yz_raise(422, 'say why the organisation is rejected', 'note', 'required');
    END IF;
    o := lock_by_id(NULL::orgs, p_id, 'no such organisation');
    IF o.verification_status = p_decision THEN
        PERFORM yz_raise(409, format('the organisation is already %s', p_decision));
    END IF;
    UPDATE orgs SET verification_status = p_decision, verified_at = CASE WHEN p_decision = 'verified' THEN now() END,
                    verified_by = p_actor, verification_note = p_note
    WHERE id = p_id RETURNING * INTO n;
    RETURN audit_returning(p_actor, p_req, 'org', p_id::text, p_decision, org_json(o), org_json(n));
END $$;

CREATE FUNCTION invitation_create(p_actor bigint, p_req text, p_org bigint, p_scope_org bigint, p_hash text,
                                  p_role text, p_max_uses int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    i invitations;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM orgs WHERE id = p_org AND (p_scope_org IS NULL OR id = p_scope_org)) THEN
        PERFORM yz_raise(404, 'no such organisation');
    END IF;
    IF p_role NOT IN ('member', 'broker') THEN
        PERFORM yz_raise(422, 'role must be member or broker', 'role', 'invalid');
    END IF;
    IF p_max_uses NOT BETWEEN 1 AND 100 THEN
        PERFORM yz_raise(422, 'max_uses must be between 1 and 100', 'max_uses', 'out_of_range');
    END IF;
    INSERT INTO invitations (org_id, code_hash, role, max_uses, expires_at, created_by)
    VALUES (p_org, p_hash, p_role, p_max_uses,
            now() + make_interval(days => setting_int('invitation_days', 14)::int),
            p_actor)
    RETURNING * INTO i;
    PERFORM audit_append(p_actor, p_req, 'invitation', i.id::text, 'create', NULL,
                         jsonb_build_object('org_id', i.org_id, 'role', i.role, 'max_uses', i.max_uses, 'expires_at', i.expires_at));
    RETURN jsonb_build_object('id', i.id, 'org_id', i.org_id, 'role', i.role, 'max_uses', i.max_uses,
                              'expires_at', i.expires_at)::text;
END $$;

-- Registration: a new user with a new org (pending verification), or a new
-- user joining an org with an invitation code.  The password hash was made by
-- the server.
CREATE FUNCTION auth_register(p_req text, p_email text, p_name text, p_hash text, p_org jsonb, p_invite_hash text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o orgs;
    i invitations;
    u users;
    v_role text := 'member';
BEGIN
    IF EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(p_email)) THEN
        PERFORM yz_raise(409, 'an account with this email already exists', 'email', 'duplicate');
    END IF;
    IF p_invite_hash IS NOT NULL THEN
        SELECT * INTO i FROM invitations WHERE code_hash = p_invite_hash FOR UPDATE;
        IF NOT FOUND OR i.expires_at <= now() OR i.uses >= i.max_uses THEN
            PERFORM yz_raise(422, 'the invitation code is unknown, used up or expired', 'invitation_code', 'invalid');
        END IF;
        UPDATE invitations SET uses = uses + 1 WHERE id = i.id;
        SELECT * INTO o FROM orgs WHERE id = i.org_id;
        v_role := i.role;
    ELSE
        o := org_insert(NULL, p_req, p_org, 'org.');
    END IF;
    INSERT INTO users (email, display_name, password_hash, role, org_id)
    VALUES (p_email, p_name, p_hash, v_role, o.id) RETURNING * INTO u;
    PERFORM audit_append(u.id, p_req, 'user', u.id::text, 'register', NULL, user_json(u));
    RETURN jsonb_build_object('user', user_json(u), 'org', org_json(o))::text;
END $$;

-- Users and offices (admin) ---------------------------------------------
CREATE FUNCTION user_create(p_actor bigint, p_req text, b jsonb, p_hash text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    u users;
BEGIN
    IF EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(b->>'email')) THEN
        PERFORM yz_raise(409, 'an account with this email already exists', 'email', 'duplicate');
    END IF;
    PERFORM check_region(b->>'region_code', 'region_code');
    INSERT INTO users (email, display_name, phone, password_hash, role, org_id, office_id, region_code)
    VALUES (b->>'email', coalesce(b->>'display_name', b->>'email'), b->>'phone', p_hash, b->>'role',
            (b->>'org_id')::bigint, (b->>'office_id')::bigint, b->>'region_code')
    RETURNING * INTO u;
    RETURN audit_returning(p_actor, p_req, 'user', u.id::text, 'create', NULL, user_json(u));
END $$;

CREATE FUNCTION user_update(p_actor bigint, p_req text, p_id bigint, p_if_match int, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o users;
    n users;
BEGIN
    o := lock_by_id(NULL::users, p_id, 'no such user');
    PERFORM check_if_match(p_if_match, o.version, 'user');
    IF p_id = p_actor AND (b ? 'role' OR b ? 'active') THEN
        PERFORM yz_raise(422, 'administrators cannot change their own role or disable themselves', 'role', 'self');
    END IF;
    PERFORM check_region(b->>'region_code', 'region_code');
    UPDATE users SET
        display_name = CASE WHEN b ? 'display_name' THEN b->>'display_name' ELSE display_name END,
        phone = CASE WHEN b ? 'phone' THEN b->>'phone' ELSE phone END,
        role = CASE WHEN b ? 'role' THEN b->>'role' ELSE role END,
        org_id = CASE WHEN b ? 'org_id' THEN (b->>'org_id')::bigint ELSE org_id END,
        office_id = CASE WHEN b ? 'office_id' THEN (b->>'office_id')::bigint ELSE office_id END,
        region_code = CASE WHEN b ? 'region_code' THEN b->>'region_code' ELSE region_code END,
        active = CASE WHEN b ? 'active' THEN (b->>'active')::boolean ELSE active END
    WHERE id = p_id RETURNING * INTO n;
    IF NOT n.active THEN
        UPDATE refresh_tokens SET revoked_at = now(), revoke_reason = 'disabled'
        WHERE user_id = p_id AND revoked_at IS NULL;
    END IF;
    RETURN audit_returning(p_actor, p_req, 'user', p_id::text, 'update', user_json(o), user_json(n));
END $$;

CREATE FUNCTION user_set_password(p_actor bigint, p_req text, p_id bigint, p_hash text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE users SET password_hash = p_hash, password_changed_at = now() WHERE id = p_id;
    UPDATE refresh_tokens SET revoked_at = now(), revoke_reason = 'password'
    WHERE user_id = p_id AND revoked_at IS NULL;
    PERFORM audit_append(p_actor, p_req, 'user', p_id::text, 'password_change', NULL, NULL);
END $$;

CREATE FUNCTION office_create(p_actor bigint, p_req text, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    f registry_offices;
BEGIN
    PERFORM check_region(b->>'region_code', 'region_code');
    IF EXISTS (SELECT 1 FROM registry_offices WHERE region_code = b->>'region_code' AND active) THEN
        PERFORM yz_raise(409, 'an active registry office already serves this region', 'region_code', 'duplicate');
    END IF;
    INSERT INTO registry_offices (name, region_code) VALUES (b->>'name', b->>'region_code') RETURNING * INTO f;
    RETURN audit_returning(p_actor, p_req, 'office', f.id::text, 'create', NULL, office_json(f));
END $$;

CREATE FUNCTION office_update(p_actor bigint, p_req text, p_id bigint, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o registry_offices;
    n registry_offices;
BEGIN
    o := lock_by_id(NULL::registry_offices, p_id, 'no such registry office');
    PERFORM check_region(b->>'region_code', 'region_code');
    UPDATE registry_offices SET
        name = CASE WHEN b ? 'name' THEN b->>'name' ELSE name END,
        region_code = CASE WHEN b ? 'region_code' THEN b->>'region_code' ELSE region_code END,
        active = CASE WHEN b ? 'active' THEN (b->>'active')::boolean ELSE active END
    WHERE id = p_id RETURNING * INTO n;
    RETURN audit_returning(p_actor, p_req, 'office', p_id::text, 'update', office_json(o), office_json(n));
END $$;

