-- Notifications (issue 19): events written to an outbox in the action's own transaction (one row per event: cheap
-- for every action), hooks (webhooks and e-mail) that subscribe to them, and one delivery row per hook and event, made
-- and claimed by the deliverer after commit.
-- Portable SQL only (DuckDB and PostgreSQL): standard types, sequences, no engine-specific functions.
CREATE SEQUENCE notification_event_id_seq START 1;
CREATE TABLE notification_events (
    id BIGINT PRIMARY KEY DEFAULT nextval('notification_event_id_seq'),
    uid VARCHAR NOT NULL UNIQUE,          -- the idempotency id every delivery of this event carries (evt_…)
    event VARCHAR NOT NULL,               -- approval.requested, alert.raised, …
    created_at TIMESTAMP NOT NULL,
    model VARCHAR,
    version INTEGER,
    environment VARCHAR,
    risk_tier VARCHAR,                    -- the model's tier when the event happened (subscriptions filter on it)
    audit_seq BIGINT,                     -- the audit row of the action that raised it (none for a scheduled notice)
    dedupe_key VARCHAR UNIQUE,            -- a notice raised at most once (recertification.due per due date)
    data JSON NOT NULL
);

CREATE SEQUENCE notification_hook_id_seq START 1;
CREATE TABLE notification_hooks (
    id INTEGER PRIMARY KEY DEFAULT nextval('notification_hook_id_seq'),
    url VARCHAR NOT NULL,                 -- http(s):// for a webhook, mailto: for e-mail
    format VARCHAR NOT NULL CHECK (format IN ('json', 'slack', 'teams', 'email')),
    secret VARCHAR,                       -- HMAC key, or a reference (env:NAME): never shown back, never audited
    secret_fingerprint VARCHAR,
    events JSON NOT NULL,                 -- ["approval.requested", …]
    models JSON,                          -- null: every model
    tiers JSON,                           -- null: every risk tier
    description VARCHAR NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL,
    removed_at TIMESTAMP,
    removed_by VARCHAR,
    start_event_id BIGINT NOT NULL,       -- the hook receives the events after this one (none from before it)
    lease_owner VARCHAR,                  -- the process delivering this hook's queue now (keeps its order)
    lease_until TIMESTAMP
);

CREATE SEQUENCE notification_delivery_id_seq START 1;
CREATE TABLE notification_deliveries (
    id BIGINT PRIMARY KEY DEFAULT nextval('notification_delivery_id_seq'),
    hook_id INTEGER NOT NULL,
    event_id BIGINT NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    response_code INTEGER,
    last_error VARCHAR,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (hook_id, event_id)
);
