-- 0006_auth: refresh tokens (opaque, stored hashed, rotated on every use).
-- A family is the chain of tokens descending from one sign-in; presenting an
-- already used token (a replay) revokes the whole family.

INSERT INTO settings (key, value, description) VALUES
    ('refresh_token_days', '30', '刷新令牌有效天数 (refresh token lifetime in days)')
ON CONFLICT (key) DO NOTHING;

CREATE TABLE refresh_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    family_id     bigint NOT NULL,
    user_id       bigint NOT NULL REFERENCES users (id),
    token_hash    text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz,
    revoked_at    timestamptz,
    revoke_reason text
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id) WHERE revoked_at IS NULL;
COMMENT ON TABLE refresh_tokens IS 'Refresh tokens by SHA-256 of the opaque token; rotated on use, revoked by family.';

CREATE FUNCTION auth_token_lifetime() RETURNS interval LANGUAGE sql STABLE AS $$
    SELECT make_interval(days => coalesce((SELECT (value #>> '{}')::int FROM settings WHERE key = 'refresh_token_days'), 30))
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
