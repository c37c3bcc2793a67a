-- 0008_deal_consent_message_centre.sql — issue #17: a deal needs both parties'
-- consent, a broker joins a negotiation only with the other party's consent,
-- and every event a person should see goes to one message centre.
-- Tables and data only; the rules are in functions/deals.sql and
-- functions/notifications.sql.

------------------------------------------------------------------------------
-- Offer and acceptance: the thread records who proposed or accepted which
-- price.  A side's standing proposal is its latest entry with a price
-- (`proposal` or `acceptance`); a deal concludes when one side accepts exactly
-- the price the other side last proposed.
------------------------------------------------------------------------------
ALTER TABLE inquiry_messages
    ADD COLUMN kind text NOT NULL DEFAULT 'message'
        CHECK (kind IN ('message', 'proposal', 'acceptance', 'purchase', 'bid_won', 'broker_named', 'broker_accepted',
                        'broker_removed', 'declined')),
    ADD COLUMN side text CHECK (side IN ('seller', 'buyer'));
COMMENT ON COLUMN inquiry_messages.kind IS
    'message (text, price informational when from a broker), proposal (a side offers price_fen), acceptance (a side accepted the other''s last proposal: the deal), purchase (listed price bought), bid_won, broker_named / broker_accepted / broker_removed, declined.';
COMMENT ON COLUMN inquiry_messages.side IS 'The party the author acted for (seller or buyer); NULL for a broker outside both and for the system.';

UPDATE inquiry_messages m
SET side = CASE WHEN m.author_org_id = i.seller_org_id THEN 'seller' WHEN m.author_org_id = i.buyer_org_id THEN 'buyer' END
FROM inquiries i WHERE i.id = m.inquiry_id;
-- a price a party named in a message was its offer
UPDATE inquiry_messages SET kind = 'proposal' WHERE price_fen IS NOT NULL AND side IS NOT NULL;
UPDATE inquiry_messages m SET kind = CASE i.kind WHEN 'listed' THEN 'purchase' ELSE 'bid_won' END
FROM inquiries i WHERE i.id = m.inquiry_id AND i.kind IN ('listed', 'auction');

-- Proposals, acceptances and broker entries need no text.
ALTER TABLE inquiry_messages ALTER COLUMN body DROP NOT NULL;
ALTER TABLE inquiry_messages DROP CONSTRAINT inquiry_messages_body_check;
ALTER TABLE inquiry_messages ADD CONSTRAINT inquiry_messages_body_check
    CHECK (body IS NULL OR (btrim(body) <> '' AND char_length(body) <= 4000));
ALTER TABLE inquiry_messages ADD CONSTRAINT inquiry_messages_text_or_price
    CHECK (kind <> 'message' OR body IS NOT NULL);
ALTER TABLE inquiry_messages ADD CONSTRAINT inquiry_messages_priced
    CHECK (kind NOT IN ('proposal', 'acceptance', 'purchase', 'bid_won') OR (price_fen IS NOT NULL AND side IS NOT NULL));

------------------------------------------------------------------------------
-- Brokers by consent: a broker named by one party reads and writes the thread
-- only once the other party accepted them (broker_accepted_at).  Brokers named
-- before this change are pending: nobody consented to them.
------------------------------------------------------------------------------
ALTER TABLE inquiries
    ADD COLUMN broker_named_by_org_id bigint REFERENCES orgs (id),
    ADD COLUMN broker_accepted_at timestamptz;
UPDATE inquiries SET broker_named_by_org_id = initiator_org_id WHERE broker_user_id IS NOT NULL;
ALTER TABLE inquiries
    ADD CONSTRAINT inquiries_broker_named CHECK ((broker_user_id IS NULL) = (broker_named_by_org_id IS NULL)),
    ADD CONSTRAINT inquiries_broker_accepted CHECK (broker_accepted_at IS NULL OR broker_user_id IS NOT NULL);
COMMENT ON COLUMN inquiries.broker_named_by_org_id IS 'The party (seller or buyer) that brought the broker; it may remove them.';
COMMENT ON COLUMN inquiries.broker_accepted_at IS 'When the other party consented; until then the broker sees nothing.';
CREATE INDEX inquiries_broker ON inquiries (broker_user_id, id DESC) WHERE broker_user_id IS NOT NULL;

------------------------------------------------------------------------------
-- Registration: a contract returned for correction (补正) has a deadline.
------------------------------------------------------------------------------
ALTER TABLE contracts ADD COLUMN correction_due_on date;
COMMENT ON COLUMN contracts.correction_due_on IS
    'While returned (补正): the date by which the applicant should correct and resubmit (setting correction_days working days after the return).';
INSERT INTO settings (key, value, description) VALUES
('correction_days', '10', '退回补正后申请人补正的期限（工作日）：本平台默认值，登记机构按本地规定修改')
ON CONFLICT (key) DO NOTHING;

------------------------------------------------------------------------------
-- One message centre: every notification a user should see is a row of
-- `notifications` (one per recipient user), whatever made it: a saved search
-- (subscription_match), a deal, a public notice, an auction, a registration.
-- `deal_notifications` (one row per organisation, never read) is folded in:
-- its rows become one row per active user of the organisation.
------------------------------------------------------------------------------
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications DROP CONSTRAINT notifications_subscription_id_kind_ref_id_key;
ALTER TABLE notifications
    ADD COLUMN ref_kind text,
    ADD COLUMN org_id bigint REFERENCES orgs (id),
    ADD COLUMN data jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object');
UPDATE notifications SET ref_kind = kind, kind = 'subscription_match';
ALTER TABLE notifications ALTER COLUMN ref_kind SET NOT NULL;
ALTER TABLE notifications
    ADD CONSTRAINT notifications_kind_check CHECK (kind IN (
        'subscription_match',
        'inquiry', 'message', 'proposal', 'agreed', 'declined', 'expired',
        'broker_request', 'broker_admitted', 'broker_removed',
        'notice', 'objection', 'objection_decided', 'notice_passed', 'notice_failed',
        'bid', 'outbid', 'auction_won', 'auction_lost', 'auction_closed',
        'contract_draft',
        'contract_returned', 'contract_registered', 'contract_refused', 'contract_change_decided')),
    ADD CONSTRAINT notifications_ref_kind_check CHECK (ref_kind IN ('result', 'need', 'inquiry', 'notice', 'auction',
                                                                    'contract')),
    ADD CONSTRAINT notifications_subscription_ref_key UNIQUE (subscription_id, ref_kind, ref_id);
CREATE INDEX notifications_unread_idx ON notifications (user_id, id DESC) WHERE read_at IS NULL;
COMMENT ON TABLE notifications IS
    'The message centre (消息): one row per recipient user and event. kind is the event (functions/notifications.sql lists who gets which), ref_kind/ref_id what it is about, data its particulars (a price, a deadline). Webhook deliveries of the same events are queued in webhook_outbox; a mail worker reads these rows.';
COMMENT ON COLUMN notifications.org_id IS 'The organisation the event was addressed to (NULL: to the user personally, e.g. a saved search or a broker).';

INSERT INTO notifications (user_id, org_id, kind, ref_kind, ref_id, title, created_at, read_at)
SELECT u.id, d.org_id, d.kind, d.ref_kind, d.ref_id, d.title, d.created_at, d.read_at
FROM deal_notifications d JOIN users u ON u.org_id = d.org_id AND u.active
ORDER BY d.id, u.id;
DROP TABLE deal_notifications;
