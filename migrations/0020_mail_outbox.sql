-- 0020_mail_outbox.sql — e-mail of the message-centre events (issue #19 part 7).
--
-- A user opts in per account (users.email_notifications, off by default).
-- notify() (functions/notifications.sql) writes one mail_outbox row per
-- opted-in recipient of a mailed kind, in the transaction of the event; the
-- reminder three working days before a 补正 deadline is queued by the
-- periodic sweep (mail_remind), once per contract and deadline (dedupe_key).
-- The server's mail thread (server/api/mail.c) claims due rows with
-- FOR UPDATE SKIP LOCKED, sends them over SMTP and records the outcome
-- (mail_record): sent, or a retry with exponential backoff, or failed after
-- the last attempt.  Without SMTP configured no server claims a row, and the
-- sweep drops pending rows older than mail_pending_max_hours (settings).

ALTER TABLE users ADD COLUMN email_notifications boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN users.email_notifications IS
    'The user receives the message-centre events by e-mail (opted in on 个人资料; off by default).';

CREATE TABLE mail_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id),
    to_addr         text NOT NULL,
    kind            text NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    link_path       text NOT NULL,
    dedupe_key      text UNIQUE,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX mail_outbox_created_idx ON mail_outbox (created_at);
COMMENT ON TABLE mail_outbox IS
    'E-mails to send: pending until the SMTP server accepts them (sent), retried with backoff, failed after YIZHAN_MAIL_MAX_ATTEMPTS; link_path is the web page (#/...) under YIZHAN_PUBLIC_URL.';

INSERT INTO settings (key, value, description, rule) VALUES
('mail_pending_max_hours', '72', '邮件通知在此小时数内未能发出（未配置 SMTP 服务器或其不可用）即由定时清理删除；已发送和发送失败的记录保留 30 天',
 '{"min": 1, "max": 720}');
