-- Where a version came from when it came from MLflow: the MLmodel's signature, and for `modelgov import mlflow`
-- the registered model version, its source run's parameters, metrics (MLflow's, kept apart from ours), tags and
-- aliases. One row per ModelGov version at most; a version registered from a plain file has none.
CREATE TABLE model_version_mlflow (
    version_id INTEGER PRIMARY KEY,
    flavour VARCHAR NOT NULL,                -- the MLflow flavour read: sklearn, xgboost or lightgbm
    serialization VARCHAR NOT NULL,          -- skops, pickle, cloudpickle, ubj, json, lgb
    signature JSON,                          -- {"inputs": [...], "outputs": [...]} from the MLmodel file
    model_uuid VARCHAR,
    mlflow_version VARCHAR,
    run_id VARCHAR,
    tracking_uri VARCHAR,                    -- without credentials; set by `modelgov import mlflow` only
    registered_model VARCHAR,
    registered_version INTEGER,
    aliases JSON NOT NULL DEFAULT '[]',
    version_tags JSON NOT NULL DEFAULT '{}',
    run_name VARCHAR,
    experiment_id VARCHAR,
    run_tags JSON NOT NULL DEFAULT '{}',
    params JSON NOT NULL DEFAULT '{}',
    metrics JSON NOT NULL DEFAULT '{}',
    recorded_at TIMESTAMP NOT NULL,
    recorded_by VARCHAR NOT NULL
);
