-- The edge change log (PostgreSQL). Keep in step with ../sqlite/0005_edge_log.sql.
-- Every insert into and delete from `edges`, in commit order, written by
-- triggers in the writing transaction: each provgraph process keeps its
-- in-memory lineage index up to date by reading what follows the last `seq`
-- it applied, whichever process wrote it. Rows are pruned after a while
-- (`edge_log_pruned.upto`); a process that fell behind the pruning reloads
-- its index from `edges`.
--
-- Commit order: sequence values are not committed in the order they are
-- drawn, so a reader polling `seq > last` could skip a row that commits
-- later with a smaller `seq`. The trigger takes one transaction-level
-- advisory lock before drawing a `seq`; it is held until commit, so a
-- transaction that changes edges draws its numbers only after every earlier
-- one committed. Writers therefore serialize from their first edge change to
-- their commit (trace locks and node upserts still run concurrently).
CREATE TABLE edge_log (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    added   SMALLINT NOT NULL,
    edge_id BIGINT   NOT NULL,
    kind    SMALLINT NOT NULL,
    from_id BIGINT   NOT NULL,
    to_id   BIGINT   NOT NULL
);

CREATE TABLE edge_log_pruned (
    one  SMALLINT PRIMARY KEY CHECK (one = 1),
    upto BIGINT   NOT NULL
);
INSERT INTO edge_log_pruned (one, upto) VALUES (1, 0);

-- Statement-level triggers over the transition tables: one INSERT .. SELECT
-- per statement instead of one PL/pgSQL call per row; the lock is taken only
-- when the statement changed edges (an upsert that only updated takes none).
CREATE FUNCTION edges_log_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows) THEN
        -- 7,070,188: the edge log's key among provgraph's advisory locks.
        PERFORM pg_advisory_xact_lock(7070188);
        INSERT INTO edge_log (added, edge_id, kind, from_id, to_id)
        SELECT 1, id, kind, from_id, to_id FROM new_rows ORDER BY id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION edges_log_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM old_rows) THEN
        PERFORM pg_advisory_xact_lock(7070188);
        INSERT INTO edge_log (added, edge_id, kind, from_id, to_id)
        SELECT 0, id, kind, from_id, to_id FROM old_rows ORDER BY id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER edges_log_insert AFTER INSERT ON edges
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION edges_log_insert();
CREATE TRIGGER edges_log_delete AFTER DELETE ON edges
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION edges_log_delete();
