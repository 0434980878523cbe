-- The data location (core/datafiles.py): prediction logs and outcomes leave the metadata store for Parquet files
-- under MODELGOV_DATA_DIR, read in place by DuckDB; this catalogue lists each committed file. A reader reads exactly
-- the files listed here, so a file whose ingest did not commit is never read. Portable SQL (DuckDB and PostgreSQL).
-- The Python step after this SQL (datafiles.upgrade_tables) copies an older store's predlog_* tables and outcomes
-- into files, catalogues and checks them, and drops the tables, in this migration's transaction.
CREATE TABLE data_files (
    path VARCHAR PRIMARY KEY,         -- relative to the data location: predictions/model=1/version=2/day=…/….parquet
    kind VARCHAR NOT NULL CHECK (kind IN ('predictions', 'outcomes')),
    model_id INTEGER NOT NULL,
    version INTEGER,                  -- predictions: the model version's number; outcomes: NULL (they are the model's)
    environment VARCHAR,              -- predictions: where they were logged (NULL: none named)
    day DATE NOT NULL,                -- UTC day of the predictions' time, or of the outcomes' arrival
    row_count BIGINT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 VARCHAR NOT NULL,
    ingest_id INTEGER,                -- ingest_runs.id (NULL: copied from the tables of an older store)
    first_at TIMESTAMP,               -- the earliest and latest time in the file
    last_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX data_files_model ON data_files (model_id, kind, version);
