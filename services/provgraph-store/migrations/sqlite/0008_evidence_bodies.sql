-- Evidence stored once (SQLite). Keep in step with ../postgres/0008_evidence_bodies.sql.
--
-- Issue #13, finding 3: `signatures` kept the whole evidence body on every
-- (evidence, subject) row, so one DSSE envelope naming 2,000 subjects stored
-- its body 2,000 times. The body now lives once, here, keyed by the
-- evidence id (the SHA-256 of its canonical JSON); signature rows name it by
-- that id. `subject`: a subject the evidence was imported for (the digest
-- that `provgraph reverify` passes again). `verified`: 1 when any of its
-- signature rows verified; unverified bodies count against the quota of
-- unverified evidence (`bytes`, summed globally and per `principal`, the
-- token name that posted it, NULL without tokens).
CREATE TABLE evidence_bodies (
    evidence_id TEXT     PRIMARY KEY,
    subject     TEXT     NOT NULL,
    body        TEXT     NOT NULL,
    bytes       BIGINT   NOT NULL,
    verified    SMALLINT NOT NULL,
    principal   TEXT,
    first_seen  BIGINT   NOT NULL
);
CREATE INDEX evidence_bodies_unverified ON evidence_bodies (verified, principal);

-- Keep what was stored: one body per evidence id (the first row's).
INSERT INTO evidence_bodies (evidence_id, subject, body, bytes, verified, principal, first_seen)
SELECT s.evidence_id, s.subject, s.body, LENGTH(CAST(s.body AS BLOB)),
       (SELECT MAX(v.verified) FROM signatures v WHERE v.evidence_id = s.evidence_id),
       NULL,
       (SELECT MIN(f.first_seen) FROM signatures f WHERE f.evidence_id = s.evidence_id)
FROM signatures s
WHERE s.id = (SELECT MIN(m.id) FROM signatures m WHERE m.evidence_id = s.evidence_id);

ALTER TABLE signatures DROP COLUMN body;
