-- SHAP explanations, cached per version, data fingerprint and settings; values live in
-- explanations/<cache_key>.parquet under the ModelGov home.
CREATE SEQUENCE explanation_id_seq START 1;
CREATE TABLE explanations (
    id INTEGER PRIMARY KEY DEFAULT nextval('explanation_id_seq'),
    cache_key VARCHAR NOT NULL UNIQUE,
    version_id INTEGER NOT NULL,
    data_fingerprint VARCHAR NOT NULL,
    data_ref VARCHAR NOT NULL,
    settings JSON NOT NULL,
    explainer VARCHAR NOT NULL CHECK (explainer IN ('tree', 'linear', 'permutation')),
    output_space VARCHAR NOT NULL CHECK (output_space IN ('log-odds', 'probability', 'raw')),
    base_value DOUBLE NOT NULL,
    additivity_max_error DOUBLE NOT NULL,
    additivity_ok BOOLEAN NOT NULL,
    features JSON NOT NULL,
    rows INTEGER NOT NULL,
    seconds DOUBLE,
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL
);
CREATE INDEX explanations_version ON explanations(version_id);
