-- Outcomes as they arrive: a multiclass model trained on text classes ("barolo", "grignolino", "barbera") gets its
-- outcomes as text. `label_text` keeps every outcome's text as given; `label` keeps its number when it is one and is
-- NULL for a text class (binary and regression read `label`; multiclass matches a class by number or by text).
ALTER TABLE outcomes ADD COLUMN label_text VARCHAR;
ALTER TABLE outcomes ALTER COLUMN "label" DROP NOT NULL;
