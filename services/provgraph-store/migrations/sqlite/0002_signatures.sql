-- Signature evidence (SQLite). Keep in step with ../postgres/0002_signatures.sql.

-- One row per (evidence, subject): a signature or attestation as imported,
-- with the outcome of its verification. `body` is the evidence as received,
-- kept so that it can be verified again (a new trust policy, a new root).
CREATE TABLE signatures (
    id              INTEGER PRIMARY KEY,
    evidence_id     TEXT     NOT NULL,
    subject         TEXT     NOT NULL,
    node_id         BIGINT   NOT NULL,
    format          TEXT     NOT NULL,
    method          TEXT     NOT NULL,
    verified        SMALLINT NOT NULL,
    trusted         SMALLINT NOT NULL,
    signer          TEXT,
    issuer          TEXT,
    reason          TEXT     NOT NULL,
    log_index       BIGINT,
    integrated_time BIGINT,
    predicate_type  TEXT,
    details         TEXT     NOT NULL,
    body            TEXT     NOT NULL,
    first_seen      BIGINT   NOT NULL,
    last_seen       BIGINT   NOT NULL,
    UNIQUE (evidence_id, subject)
);
CREATE INDEX signatures_by_subject ON signatures (subject);

-- Which signatures prove (or state, for SIGNS/SIGNED_BY) which edges.
CREATE TABLE edge_proofs (
    edge_id      BIGINT NOT NULL,
    signature_id BIGINT NOT NULL,
    origin       TEXT   NOT NULL,
    PRIMARY KEY (edge_id, signature_id, origin)
) WITHOUT ROWID;
CREATE INDEX edge_proofs_by_signature ON edge_proofs (signature_id);
