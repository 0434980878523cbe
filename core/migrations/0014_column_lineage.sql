-- Column lineage from OpenLineage's columnLineage facet: which source columns each dataset column is made from.
CREATE TABLE lineage_columns (
    dataset VARCHAR NOT NULL,          -- node id of the dataset the column belongs to
    column_name VARCHAR NOT NULL,
    source_dataset VARCHAR NOT NULL,   -- node id of the dataset it is made from
    source_column VARCHAR NOT NULL,
    job_id VARCHAR,                    -- the job whose event reported it (NULL from a DatasetEvent)
    transformations JSON NOT NULL,     -- [{"type", "subtype", "description", "masking"}]
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL,
    PRIMARY KEY (dataset, column_name, source_dataset, source_column)
);
CREATE INDEX lineage_columns_source ON lineage_columns(source_dataset, source_column);
