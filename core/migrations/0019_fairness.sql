-- Fairness (issue 18). A model card declares the sensitive attributes its fairness is measured on: columns of the
-- data, or an attribute file (a stored dataset) joined by row or request id, with bands for numeric ones. A tier
-- may require a minimum demographic-parity ratio on each declared attribute (NULL: no check, the default for every
-- tier of an existing store, so no verdict changes on upgrade).
CREATE TABLE fairness_settings (
    model_id INTEGER PRIMARY KEY,
    attributes JSON NOT NULL,
    positive_is VARCHAR NOT NULL CHECK (positive_is IN ('adverse', 'favourable')),
    prediction_phrase VARCHAR NOT NULL,
    min_group_size INTEGER NOT NULL,
    attribute_dataset_id INTEGER,
    id_column VARCHAR,
    updated_by VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

ALTER TABLE policies ADD COLUMN min_parity_ratio DOUBLE;
