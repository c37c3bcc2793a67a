-- 0006_rate_limit_expiry.sql — rate_limits rows expire (issue 21).  A row was
-- kept for every key ever counted — every e-mail string ever tried at the
-- sign-in form — long after its window ended.  Each row now says when its
-- window ends; rate_limits_sweep() (functions/accounts.sql), run by every
-- instance's background sweep, deletes the rows past that, and rate_hit()
-- sets it on every hit.  Rows from before this migration get one hour.
ALTER TABLE rate_limits ADD COLUMN expires_at timestamptz NOT NULL DEFAULT now() + interval '1 hour';
CREATE INDEX rate_limits_expires_idx ON rate_limits (expires_at);
