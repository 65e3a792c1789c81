-- The message outbox: e-mails and SMS the gateway sends to people (an invoice link, later a
-- receipt). A message is written, fully rendered, in the transaction of the use case that causes
-- it, so it exists exactly when that change committed; delivery workers of any node claim due
-- messages (a lease, as callback_events), send them and record the outcome here. The body is the
-- message exactly as sent, for the cabinet's "what was sent".
CREATE TABLE outbox_messages (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    kind TEXT NOT NULL CHECK (kind IN ('invoice_link', 'receipt')),
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    -- What the message is about (an invoice link's invoice id), for finding it; may be ''.
    reference TEXT NOT NULL,
    recipient TEXT NOT NULL,
    language TEXT NOT NULL CHECK (language IN ('ru', 'kk', 'en')),
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    -- Which claim (one worker pass on one node) holds the message while locked_until is ahead.
    claim_id TEXT NOT NULL,
    last_error TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_messages_due ON outbox_messages (state, next_attempt_at);
CREATE INDEX outbox_messages_merchant ON outbox_messages (merchant_id, created_at);
