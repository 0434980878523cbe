-- Multiclass classification: a version's task may be 'multiclass_classification' (classes JSON holds its K > 2
-- classes, in the order of its predict_proba columns). DuckDB cannot drop a CHECK constraint, so the table is
-- rebuilt with the wider check, every row and id kept (nothing references it by foreign key).
CREATE TABLE model_versions_0012 (
    id INTEGER PRIMARY KEY DEFAULT nextval('version_id_seq'),
    model_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    sha256 VARCHAR NOT NULL,
    artifact_format VARCHAR NOT NULL,
    artifact_size BIGINT NOT NULL,
    flavour VARCHAR NOT NULL,
    estimator VARCHAR NOT NULL,
    task VARCHAR NOT NULL CHECK (task IN ('binary_classification', 'multiclass_classification', 'regression')),
    signature JSON NOT NULL,
    target VARCHAR NOT NULL,
    classes JSON,
    train_dataset_id INTEGER,
    test_dataset_id INTEGER,
    parameters JSON NOT NULL,
    metrics JSON NOT NULL,
    code_ref VARCHAR,
    status VARCHAR NOT NULL DEFAULT 'registered'
        CHECK (status IN ('registered', 'staging', 'challenger', 'production', 'retired', 'archived')),
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL,
    UNIQUE (model_id, version)
);
INSERT INTO model_versions_0012 SELECT * FROM model_versions;
DROP TABLE model_versions;
ALTER TABLE model_versions_0012 RENAME TO model_versions;
