-- Stored monitoring results: checks.review's answer per (version, environment, window), computed when data
-- arrives (ingest, outcomes, the scheduled `modelgov monitor`) so pages read it instead of computing it.
-- A derived cache, not governed data: anyone who may view it may recompute it, it decides nothing, and its
-- writes are not audited (docs/architecture.md says why). The data stamp says what it was computed from, so a
-- reader can tell whether rows arrived since (and how many).
CREATE TABLE monitoring_results (
    version_id INTEGER NOT NULL,
    environment VARCHAR NOT NULL,     -- '' = every environment
    time_window VARCHAR NOT NULL,     -- hour, day, week (drift.report.WINDOWS)
    result JSON NOT NULL,             -- checks.review's answer, as returned
    computed_at TIMESTAMP NOT NULL,
    computed_by VARCHAR NOT NULL,
    seconds DOUBLE NOT NULL,          -- how long the computation took
    log_rows BIGINT NOT NULL,         -- logged predictions in scope it was computed from
    log_last TIMESTAMP,               -- the latest of them
    outcome_rows BIGINT NOT NULL,     -- the model's outcomes it was computed from
    ingest_run INTEGER,               -- the model's latest ingestion run it saw (never replaced by an older one)
    data_stamp JSON NOT NULL,         -- every figure of the data it was computed from (logs.data_stamp_tx)
    PRIMARY KEY (version_id, environment, time_window)
);
