-- Approvals: deployment requests with a frozen evidence pack, decisions under four eyes,
-- policies per risk tier, re-certifications.

CREATE SEQUENCE approval_id_seq START 1;
CREATE TABLE approval_requests (
    id INTEGER PRIMARY KEY DEFAULT nextval('approval_id_seq'),
    version_id INTEGER NOT NULL,
    environment VARCHAR NOT NULL CHECK (environment IN ('staging', 'production')),
    role VARCHAR NOT NULL CHECK (role IN ('champion', 'challenger')),
    reason VARCHAR NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'deployed', 'expired')),
    requested_by VARCHAR NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    approvals_needed INTEGER NOT NULL,
    evidence JSON NOT NULL,          -- the frozen evidence pack, canonical JSON
    evidence_sha256 VARCHAR NOT NULL,  -- SHA-256 of that exact text
    checks_failed INTEGER NOT NULL,
    decided_at TIMESTAMP,
    expires_at TIMESTAMP,            -- an approval not deployed by then expires
    deployment_id INTEGER,
    deployed_at TIMESTAMP,
    deployed_by VARCHAR
);
CREATE INDEX approval_requests_status ON approval_requests(status);

CREATE TABLE approval_decisions (
    request_id INTEGER NOT NULL,
    decided_by VARCHAR NOT NULL,
    decision VARCHAR NOT NULL CHECK (decision IN ('approve', 'reject')),
    decided_at TIMESTAMP NOT NULL,
    comment VARCHAR NOT NULL,
    override_reason VARCHAR,
    PRIMARY KEY (request_id, decided_by)
);

-- One row per risk tier; NULL thresholds are not checked.
CREATE TABLE policies (
    risk_tier VARCHAR PRIMARY KEY CHECK (risk_tier IN ('low', 'medium', 'high')),
    min_auc DOUBLE,
    min_r2 DOUBLE,
    max_drift_share DOUBLE,
    required_card_fields JSON NOT NULL,
    approvals_needed INTEGER NOT NULL CHECK (approvals_needed BETWEEN 1 AND 3),
    recertify_days INTEGER NOT NULL CHECK (recertify_days > 0),
    approval_valid_days INTEGER NOT NULL CHECK (approval_valid_days > 0),
    updated_by VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO policies VALUES
    ('high', 0.70, 0.50, 0.30,
     '["intended_use","limitations","training_data_summary","ethical_considerations","caveats"]', 2, 180, 14,
     'system@modelgov', now()::TIMESTAMP),
    ('medium', 0.65, 0.30, 0.50, '["intended_use","limitations","training_data_summary"]', 1, 365, 30,
     'system@modelgov', now()::TIMESTAMP),
    ('low', 0.60, 0.0, NULL, '["intended_use"]', 1, 730, 30, 'system@modelgov', now()::TIMESTAMP);

CREATE SEQUENCE recertification_id_seq START 1;
CREATE TABLE recertifications (
    id INTEGER PRIMARY KEY DEFAULT nextval('recertification_id_seq'),
    model_id INTEGER NOT NULL,
    environment VARCHAR NOT NULL CHECK (environment IN ('staging', 'production')),
    version_id INTEGER NOT NULL,
    recertified_by VARCHAR NOT NULL,
    recertified_at TIMESTAMP NOT NULL,
    comment VARCHAR NOT NULL,
    next_due DATE NOT NULL
);
