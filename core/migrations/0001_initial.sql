-- Foundation: registry, datasets, lineage, deployments, role grants, settings, audit trail.
-- Times are UTC. JSON columns hold canonical JSON text.

CREATE SEQUENCE model_id_seq START 1;
CREATE TABLE models (
    id INTEGER PRIMARY KEY DEFAULT nextval('model_id_seq'),
    name VARCHAR NOT NULL UNIQUE,
    description VARCHAR NOT NULL DEFAULT '',
    owner VARCHAR NOT NULL,
    business_unit VARCHAR NOT NULL DEFAULT '',
    use_case VARCHAR NOT NULL DEFAULT '',
    risk_tier VARCHAR NOT NULL CHECK (risk_tier IN ('low', 'medium', 'high')),
    intended_use VARCHAR NOT NULL DEFAULT '',
    limitations VARCHAR NOT NULL DEFAULT '',
    training_data_summary VARCHAR NOT NULL DEFAULT '',
    ethical_considerations VARCHAR NOT NULL DEFAULT '',
    caveats VARCHAR NOT NULL DEFAULT '',
    tags VARCHAR[] NOT NULL DEFAULT [],
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE SEQUENCE dataset_id_seq START 1;
CREATE TABLE datasets (
    id INTEGER PRIMARY KEY DEFAULT nextval('dataset_id_seq'),
    name VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    location VARCHAR NOT NULL,
    stored_path VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,
    n_rows BIGINT NOT NULL,
    n_columns INTEGER NOT NULL,
    "schema" JSON NOT NULL,
    profile JSON NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL,
    UNIQUE (name, version)
);

CREATE SEQUENCE version_id_seq START 1;
CREATE TABLE model_versions (
    id INTEGER PRIMARY KEY DEFAULT nextval('version_id_seq'),
    model_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    sha256 VARCHAR NOT NULL,
    artifact_format VARCHAR NOT NULL,
    artifact_size BIGINT NOT NULL,
    flavour VARCHAR NOT NULL,
    estimator VARCHAR NOT NULL,
    task VARCHAR NOT NULL CHECK (task IN ('binary_classification', 'regression')),
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

CREATE TABLE lineage_nodes (
    id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    attributes JSON NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE lineage_edges (
    src VARCHAR NOT NULL,
    dst VARCHAR NOT NULL,
    relation VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL,
    PRIMARY KEY (src, dst, relation)
);
CREATE INDEX lineage_edges_dst ON lineage_edges (dst);

CREATE SEQUENCE deployment_id_seq START 1;
CREATE TABLE deployments (
    id INTEGER PRIMARY KEY DEFAULT nextval('deployment_id_seq'),
    version_id INTEGER NOT NULL,
    environment VARCHAR NOT NULL CHECK (environment IN ('staging', 'production')),
    role VARCHAR NOT NULL CHECK (role IN ('champion', 'challenger')),
    since TIMESTAMP NOT NULL,
    until TIMESTAMP,
    deployed_by VARCHAR NOT NULL,
    approval_id INTEGER,
    end_reason VARCHAR
);

CREATE TABLE role_grants (
    email VARCHAR NOT NULL,
    role VARCHAR NOT NULL CHECK (role IN ('viewer', 'data_scientist', 'risk_officer', 'admin')),
    granted_by VARCHAR NOT NULL,
    granted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (email, role)
);

CREATE TABLE settings (
    key VARCHAR PRIMARY KEY,
    value JSON NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by VARCHAR NOT NULL
);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    ts TIMESTAMP NOT NULL,
    actor VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    entity_type VARCHAR NOT NULL,
    entity_id VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL CHECK (outcome IN ('ok', 'refused')),
    payload JSON NOT NULL,
    prev_hash VARCHAR NOT NULL,
    hash VARCHAR NOT NULL
);
