-- The events outbox (SQLite). Keep in step with ../postgres/0009_events.sql.
-- One row per event, written by triggers in the transaction of the fact that
-- causes it, so an event exists exactly when its fact committed (never lost
-- by a crash after the commit, never there for a fact rolled back):
--   kind 1 artifact.built:        a BUILT_BY edge (artifact -> build) inserted
--   kind 2 workload.started:      a sightings row (workload, image) inserted
--   kind 3 vulnerability.affects: a vuln_findings row (vulnerability, image) inserted
--   kind 4 verdict.changed:       an `artifact_verdicts` row inserted, or
--                                 its verdict updated (by the verdict
--                                 tracker); object_key the new verdict,
--                                 detail the old one (UNKNOWN when new;
--                                 a new row saying UNKNOWN is no change)
--   kind 0 (not delivered):       a signature of the digest stored or
--                                 re-verified: tells the verdict tracker
-- subject_key is the image digest; object_key the build, workload or
-- vulnerability key. created in ms
-- since the epoch. Delivery state per webhook endpoint is `event_cursors`.
CREATE TABLE event_outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        SMALLINT NOT NULL,
    subject_key TEXT     NOT NULL,
    object_key  TEXT     NOT NULL,
    detail      TEXT,
    created     BIGINT   NOT NULL
);

-- Per webhook endpoint: every event with seq <= upto was delivered or given
-- up on (past the retry horizon). A new endpoint starts at the newest seq.
CREATE TABLE event_cursors (
    endpoint TEXT PRIMARY KEY,
    upto     BIGINT NOT NULL
);

-- The verdict each artifact had when last computed (verdict.changed).
CREATE TABLE artifact_verdicts (
    artifact_key TEXT PRIMARY KEY,
    verdict      TEXT NOT NULL,
    updated      BIGINT NOT NULL
);

CREATE TRIGGER edges_outbox_built AFTER INSERT ON edges WHEN NEW.kind = 1 BEGIN
    INSERT INTO event_outbox (kind, subject_key, object_key, created)
    SELECT 1, a.key, b.key, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
    FROM nodes a, nodes b WHERE a.id = NEW.from_id AND b.id = NEW.to_id AND a.kind = 5;
END;

CREATE TRIGGER sightings_outbox_started AFTER INSERT ON sightings BEGIN
    INSERT INTO event_outbox (kind, subject_key, object_key, created)
    SELECT 2, a.key, w.key, NEW.first_seen
    FROM nodes a, nodes w WHERE a.id = NEW.artifact_id AND w.id = NEW.workload_id;
END;

CREATE TRIGGER findings_outbox_affects AFTER INSERT ON vuln_findings BEGIN
    INSERT INTO event_outbox (kind, subject_key, object_key, created)
    SELECT 3, a.key, v.key, NEW.first_seen
    FROM nodes a, nodes v WHERE a.id = NEW.artifact_id AND v.id = NEW.vuln_id;
END;

CREATE TRIGGER verdicts_outbox_new AFTER INSERT ON artifact_verdicts
WHEN NEW.verdict <> 'UNKNOWN' BEGIN
    INSERT INTO event_outbox (kind, subject_key, object_key, detail, created)
    VALUES (4, NEW.artifact_key, NEW.verdict, 'UNKNOWN', NEW.updated);
END;

CREATE TRIGGER verdicts_outbox_changed AFTER UPDATE OF verdict ON artifact_verdicts
WHEN OLD.verdict <> NEW.verdict BEGIN
    INSERT INTO event_outbox (kind, subject_key, object_key, detail, created)
    VALUES (4, NEW.artifact_key, NEW.verdict, OLD.verdict, NEW.updated);
END;

CREATE TRIGGER signatures_outbox_new AFTER INSERT ON signatures BEGIN
    INSERT INTO event_outbox (kind, subject_key, object_key, created)
    VALUES (0, NEW.subject, '', NEW.last_seen);
END;

CREATE TRIGGER signatures_outbox_changed AFTER UPDATE OF verified, trusted ON signatures
WHEN OLD.verified <> NEW.verified OR OLD.trusted <> NEW.trusted BEGIN
    INSERT INTO event_outbox (kind, subject_key, object_key, created)
    VALUES (0, NEW.subject, '', NEW.last_seen);
END;
