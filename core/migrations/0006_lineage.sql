-- Lineage at scale: traversals join on both ends of an edge; imported OpenLineage runs are kept.
CREATE INDEX lineage_edges_src ON lineage_edges(src);
CREATE INDEX lineage_nodes_kind ON lineage_nodes(kind);

CREATE TABLE lineage_runs (
    run_id VARCHAR NOT NULL,
    job_id VARCHAR NOT NULL,          -- node id job:NAMESPACE:NAME
    event_type VARCHAR NOT NULL,
    event_time TIMESTAMP,
    producer VARCHAR NOT NULL DEFAULT '',
    imported_at TIMESTAMP NOT NULL,
    imported_by VARCHAR NOT NULL,
    PRIMARY KEY (run_id, job_id, event_type)
);
