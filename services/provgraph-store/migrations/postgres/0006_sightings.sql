-- Sightings (PostgreSQL). Keep in step with ../sqlite/0006_sightings.sql.
-- One row per (workload, image) pair, however much telemetry names it: the
-- RUNS edge between them carries no per-trace evidence, this row stands for
-- it. first_seen/last_seen in ms since the epoch; count: sightings received
-- (one per trace per export request, one per resource per metrics or logs
-- export). last_seen may lag memory by the flush interval
-- (--sighting-flush-interval).
CREATE TABLE sightings (
    workload_id BIGINT NOT NULL,
    artifact_id BIGINT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    count       BIGINT NOT NULL,
    PRIMARY KEY (workload_id, artifact_id)
);
CREATE INDEX sightings_by_artifact ON sightings (artifact_id);
CREATE INDEX sightings_by_last_seen ON sightings (last_seen);

-- Fold what workload traces left before (one evidence row per trace on each
-- RUNS edge, one span_facts row per trace) into sightings. RUNS evidence
-- only ever came from traces that were no build's, and every span fact of
-- such a trace was a bare sighting.
INSERT INTO sightings (workload_id, artifact_id, first_seen, last_seen, count)
SELECT e.from_id, e.to_id, MIN(v.first_seen), MAX(v.last_seen), COUNT(*)
FROM edges e JOIN edge_evidence v ON v.edge_id = e.id
WHERE e.kind = 7
GROUP BY e.from_id, e.to_id;

DELETE FROM span_facts
WHERE trace_id IN (
    SELECT v.trace_id FROM edge_evidence v JOIN edges e ON e.id = v.edge_id WHERE e.kind = 7
) AND trace_id NOT IN (SELECT trace_id FROM traces);

DELETE FROM edge_evidence WHERE edge_id IN (SELECT id FROM edges WHERE kind = 7);
