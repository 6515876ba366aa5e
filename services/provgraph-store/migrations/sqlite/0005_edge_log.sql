-- The edge change log (SQLite). Keep in step with ../postgres/0005_edge_log.sql.
-- Every insert into and delete from `edges`, in commit order, written by
-- triggers in the writing transaction: each provgraph process keeps its
-- in-memory lineage index up to date by reading what follows the last `seq`
-- it applied, whichever process wrote it. Rows are pruned after a while
-- (`edge_log_pruned.upto`); a process that fell behind the pruning reloads
-- its index from `edges`.
CREATE TABLE edge_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
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

CREATE TRIGGER edges_log_insert AFTER INSERT ON edges BEGIN
    INSERT INTO edge_log (added, edge_id, kind, from_id, to_id)
    VALUES (1, NEW.id, NEW.kind, NEW.from_id, NEW.to_id);
END;

CREATE TRIGGER edges_log_delete AFTER DELETE ON edges BEGIN
    INSERT INTO edge_log (added, edge_id, kind, from_id, to_id)
    VALUES (0, OLD.id, OLD.kind, OLD.from_id, OLD.to_id);
END;
