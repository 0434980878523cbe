-- Monitoring: prediction logs (one typed table per model version, created on first use and listed
-- here), outcomes joined by request id, ingestion runs with their rejections, alerts, snapshots.
CREATE TABLE prediction_tables (
    version_id INTEGER PRIMARY KEY,
    table_name VARCHAR NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE outcomes (
    model_id INTEGER NOT NULL,
    request_id VARCHAR NOT NULL,
    label DOUBLE NOT NULL,
    arrived_at TIMESTAMP NOT NULL,
    PRIMARY KEY (model_id, request_id)
);

CREATE SEQUENCE ingest_id_seq START 1;
CREATE TABLE ingest_runs (
    id INTEGER PRIMARY KEY DEFAULT nextval('ingest_id_seq'),
    model_id INTEGER NOT NULL,
    kind VARCHAR NOT NULL CHECK (kind IN ('score', 'log-predictions', 'log-outcomes')),
    source VARCHAR NOT NULL,
    rows_in BIGINT NOT NULL,
    rows_ok BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    reasons JSON NOT NULL,            -- {reason: count}
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL
);

CREATE TABLE ingest_rejections (
    ingest_id INTEGER NOT NULL,
    row_number BIGINT NOT NULL,       -- 1-based row of the input file
    reason VARCHAR NOT NULL
);

CREATE SEQUENCE alert_id_seq START 1;
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY DEFAULT nextval('alert_id_seq'),
    model_id INTEGER NOT NULL,
    version INTEGER,
    environment VARCHAR,
    kind VARCHAR NOT NULL,            -- drift, performance, data_quality, freshness
    severity VARCHAR NOT NULL CHECK (severity IN ('high', 'medium', 'low')),
    message VARCHAR NOT NULL,
    metric VARCHAR,
    value DOUBLE,
    threshold DOUBLE,
    status VARCHAR NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    created_at TIMESTAMP NOT NULL,
    acknowledged_by VARCHAR,
    acknowledged_at TIMESTAMP,
    resolved_by VARCHAR,
    resolved_at TIMESTAMP,
    note VARCHAR
);

CREATE TABLE monitor_snapshots (
    model_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    environment VARCHAR NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    summary JSON NOT NULL,
    PRIMARY KEY (model_id, version, environment)
);

CREATE TABLE monitoring_config (
    model_id INTEGER PRIMARY KEY,
    config JSON NOT NULL,
    updated_by VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
