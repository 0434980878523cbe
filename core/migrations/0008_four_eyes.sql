-- Four eyes that cannot be routed around (issue 13).
--
-- risk_tier_history: every risk tier a model has held and since when, so a request needs the approvals of the
-- highest tier its model held since the request was made (a tier lowered after a request does not lower it).
-- Stores made before this migration get their history back from the audit trail: the tier each model was
-- created with, then every tier change recorded by `model.update`; a model without a creation event starts
-- with its current tier at its creation time.
--
-- approval_decisions.role_*: how the approver held the role they decided with, kept with the decision as
-- evidence ('grant' with who granted it and when, or 'claim' for a role from the identity provider's claims).
-- Decisions made before this migration have NULL there: the store did not record it then.

CREATE SEQUENCE risk_tier_history_id_seq START 1;
CREATE TABLE risk_tier_history (
    id INTEGER PRIMARY KEY DEFAULT nextval('risk_tier_history_id_seq'),
    model_id INTEGER NOT NULL,
    risk_tier VARCHAR NOT NULL CHECK (risk_tier IN ('low', 'medium', 'high')),
    since TIMESTAMP NOT NULL,
    changed_by VARCHAR NOT NULL,
    reason VARCHAR NOT NULL
);
CREATE INDEX risk_tier_history_model ON risk_tier_history(model_id, since);

INSERT INTO risk_tier_history (model_id, risk_tier, since, changed_by, reason)
SELECT m.id, t.tier, t.ts, t.actor, t.why FROM (
    SELECT a.entity_id AS name, a.seq, a.ts, a.actor,
           coalesce(json_extract_string(a.payload, '$.risk_tier'), 'medium') AS tier,
           'the tier the model was created with (from the audit trail)' AS why
    FROM audit_log a WHERE a.action = 'model.create' AND a.outcome = 'ok'
    UNION ALL
    SELECT a.entity_id, a.seq, a.ts, a.actor, json_extract_string(a.payload, '$.changes.risk_tier.to'),
           'changed with model.update (from the audit trail)'
    FROM audit_log a WHERE a.action = 'model.update' AND a.outcome = 'ok'
      AND json_extract_string(a.payload, '$.changes.risk_tier.to') IS NOT NULL
) t JOIN models m ON m.name = t.name
WHERE t.tier IN ('low', 'medium', 'high')
ORDER BY t.seq;

INSERT INTO risk_tier_history (model_id, risk_tier, since, changed_by, reason)
SELECT m.id, m.risk_tier, m.created_at, m.created_by, 'the tier the model had when migration 0008 ran'
FROM models m WHERE NOT EXISTS (SELECT 1 FROM risk_tier_history h WHERE h.model_id = m.id);

ALTER TABLE approval_decisions ADD COLUMN role_source VARCHAR;
ALTER TABLE approval_decisions ADD COLUMN role_granted_by VARCHAR;
ALTER TABLE approval_decisions ADD COLUMN role_granted_at TIMESTAMP;
