-- Access tokens ModelGov issues for its HTTP API (issue 22). Only the SHA-256 of a token is kept: the token itself
-- is shown once, when it is made. `scope` is the roles the token may use, each also held by its owner at use.
CREATE TABLE api_tokens (
    id VARCHAR PRIMARY KEY,              -- public id (tok_…), named in audit events and by `tokens revoke`
    token_sha256 VARCHAR NOT NULL UNIQUE,
    owner VARCHAR NOT NULL,              -- the e-mail the token acts as
    kind VARCHAR NOT NULL CHECK (kind IN ('personal', 'service')),
    scope JSON NOT NULL,                 -- ["data_scientist", …]
    description VARCHAR NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP,
    revoked_by VARCHAR
);
CREATE INDEX api_tokens_owner ON api_tokens(owner);

-- Identities that are not people: an administrator makes their tokens (a person makes only their own).
CREATE TABLE service_accounts (
    email VARCHAR PRIMARY KEY,
    description VARCHAR NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL
);
