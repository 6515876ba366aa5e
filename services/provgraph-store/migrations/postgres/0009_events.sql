-- The events outbox (PostgreSQL). Keep in step with ../sqlite/0009_events.sql.
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
--
-- Commit order: as for the edge log (0005), each trigger takes the edge
-- log's advisory lock (7070188) before drawing a `seq`, so `seq` order is
-- commit order and a reader of `seq > last` skips nothing.
CREATE TABLE event_outbox (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        SMALLINT NOT NULL,
    subject_key TEXT     NOT NULL,
    object_key  TEXT     NOT NULL,
    detail      TEXT,
    created     BIGINT   NOT NULL
);

CREATE TABLE event_cursors (
    endpoint TEXT PRIMARY KEY,
    upto     BIGINT NOT NULL
);

CREATE TABLE artifact_verdicts (
    artifact_key TEXT PRIMARY KEY,
    verdict      TEXT NOT NULL,
    updated      BIGINT NOT NULL
);

CREATE FUNCTION edges_outbox_built() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows WHERE kind = 1) THEN
        PERFORM pg_advisory_xact_lock(7070188);
        INSERT INTO event_outbox (kind, subject_key, object_key, created)
        SELECT 1, a.key, b.key, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT
        FROM new_rows e JOIN nodes a ON a.id = e.from_id JOIN nodes b ON b.id = e.to_id
        WHERE e.kind = 1 AND a.kind = 5 ORDER BY e.id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION sightings_outbox_started() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows) THEN
        PERFORM pg_advisory_xact_lock(7070188);
        INSERT INTO event_outbox (kind, subject_key, object_key, created)
        SELECT 2, a.key, w.key, s.first_seen
        FROM new_rows s JOIN nodes a ON a.id = s.artifact_id JOIN nodes w ON w.id = s.workload_id
        ORDER BY s.workload_id, s.artifact_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION findings_outbox_affects() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows) THEN
        PERFORM pg_advisory_xact_lock(7070188);
        INSERT INTO event_outbox (kind, subject_key, object_key, created)
        SELECT 3, a.key, v.key, f.first_seen
        FROM new_rows f JOIN nodes a ON a.id = f.artifact_id JOIN nodes v ON v.id = f.vuln_id
        ORDER BY f.vuln_id, f.artifact_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER edges_outbox_built AFTER INSERT ON edges
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION edges_outbox_built();
CREATE TRIGGER sightings_outbox_started AFTER INSERT ON sightings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sightings_outbox_started();
CREATE TRIGGER findings_outbox_affects AFTER INSERT ON vuln_findings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION findings_outbox_affects();

CREATE FUNCTION artifact_verdicts_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.verdict = 'UNKNOWN' THEN
            RETURN NULL;
        END IF;
        PERFORM pg_advisory_xact_lock(7070188);
        INSERT INTO event_outbox (kind, subject_key, object_key, detail, created)
        VALUES (4, NEW.artifact_key, NEW.verdict, 'UNKNOWN', NEW.updated);
    ELSIF OLD.verdict <> NEW.verdict THEN
        PERFORM pg_advisory_xact_lock(7070188);
        INSERT INTO event_outbox (kind, subject_key, object_key, detail, created)
        VALUES (4, NEW.artifact_key, NEW.verdict, OLD.verdict, NEW.updated);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION signatures_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR OLD.verified <> NEW.verified OR OLD.trusted <> NEW.trusted THEN
        PERFORM pg_advisory_xact_lock(7070188);
        INSERT INTO event_outbox (kind, subject_key, object_key, created)
        VALUES (0, NEW.subject, '', NEW.last_seen);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER artifact_verdicts_outbox AFTER INSERT OR UPDATE ON artifact_verdicts
    FOR EACH ROW EXECUTE FUNCTION artifact_verdicts_outbox();
CREATE TRIGGER signatures_outbox AFTER INSERT OR UPDATE ON signatures
    FOR EACH ROW EXECUTE FUNCTION signatures_outbox();
