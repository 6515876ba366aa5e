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

CREATE FUNCTION edges_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- 7,070,188 ('log' in the advisory key space of provgraph): see above.
    PERFORM pg_advisory_xact_lock(7070188);
    IF TG_OP = 'INSERT' THEN
        INSERT INTO edge_log (added, edge_id, kind, from_id, to_id)
        VALUES (1, NEW.id, NEW.kind, NEW.from_id, NEW.to_id);
    ELSE
        INSERT INTO edge_log (added, edge_id, kind, from_id, to_id)
        VALUES (0, OLD.id, OLD.kind, OLD.from_id, OLD.to_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER edges_log_insert AFTER INSERT ON edges FOR EACH ROW EXECUTE FUNCTION edges_log();
CREATE TRIGGER edges_log_delete AFTER DELETE ON edges FOR EACH ROW EXECUTE FUNCTION edges_log();
