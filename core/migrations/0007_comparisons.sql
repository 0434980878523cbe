-- Champion-vs-challenger comparisons, stored with the fingerprints of their inputs so an
-- approval's frozen evidence pack can cite exactly what was compared on which rows.

CREATE SEQUENCE comparison_id_seq START 1;
CREATE TABLE comparisons (
    id INTEGER PRIMARY KEY DEFAULT nextval('comparison_id_seq'),
    champion_version_id INTEGER NOT NULL,
    challenger_version_id INTEGER NOT NULL,
    champion_sha256 VARCHAR NOT NULL,
    challenger_sha256 VARCHAR NOT NULL,
    source VARCHAR NOT NULL CHECK (source IN ('holdout', 'production')),
    data_ref VARCHAR NOT NULL,
    data_fingerprint VARCHAR NOT NULL,
    n_rows BIGINT NOT NULL,
    target VARCHAR NOT NULL,
    segment VARCHAR,
    bootstrap INTEGER NOT NULL,
    seed BIGINT NOT NULL,
    verdict VARCHAR NOT NULL,
    result JSON NOT NULL,
    result_sha256 VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL
);
CREATE INDEX comparisons_challenger ON comparisons (challenger_version_id);
