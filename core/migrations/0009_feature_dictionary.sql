-- The model card's feature dictionary (issue 14): input column -> the business label people read on the pages.
-- Optional and kept apart from the card's text fields, so card completeness and the tiers' required card fields
-- do not change for existing models: every model starts with an empty dictionary.

ALTER TABLE models ADD COLUMN feature_dictionary JSON NOT NULL DEFAULT '{}';
