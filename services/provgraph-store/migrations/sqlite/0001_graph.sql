-- The provenance graph (SQLite). Keep in step with ../postgres/0001_graph.sql.
-- Times are milliseconds since the Unix epoch, taken when provgraph received
-- the data. Kind codes: see provgraph_model::NodeKind::code / EdgeKind::code.

CREATE TABLE nodes (
    id         INTEGER PRIMARY KEY,
    kind       SMALLINT NOT NULL,
    key        TEXT     NOT NULL,
    first_seen BIGINT   NOT NULL,
    last_seen  BIGINT   NOT NULL,
    UNIQUE (kind, key)
);

-- Edges point from what was made to what it was made from.
CREATE TABLE edges (
    id         INTEGER PRIMARY KEY,
    kind       SMALLINT NOT NULL,
    from_id    BIGINT   NOT NULL,
    to_id      BIGINT   NOT NULL,
    first_seen BIGINT   NOT NULL,
    last_seen  BIGINT   NOT NULL,
    UNIQUE (from_id, kind, to_id)
);
CREATE INDEX edges_by_to ON edges (to_id, kind);

-- Who asserted each edge: a span of a trace (span_id '' for the trace as a
-- whole), sent by a service.
CREATE TABLE edge_evidence (
    edge_id    BIGINT NOT NULL,
    trace_id   TEXT   NOT NULL,
    span_id    TEXT   NOT NULL,
    sender     TEXT   NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (edge_id, trace_id, span_id)
) WITHOUT ROWID;
CREATE INDEX edge_evidence_by_trace ON edge_evidence (trace_id);

CREATE TABLE node_attrs (
    node_id    BIGINT NOT NULL,
    name       TEXT   NOT NULL,
    value      TEXT   NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (node_id, name, value)
) WITHOUT ROWID;

-- Traces known to describe a build, and which build.
CREATE TABLE traces (
    trace_id     TEXT     PRIMARY KEY,
    build_source SMALLINT NOT NULL,
    build_key    TEXT     NOT NULL,
    first_seen   BIGINT   NOT NULL,
    last_seen    BIGINT   NOT NULL
) WITHOUT ROWID;

-- The facts each span asserted (JSON of provgraph_model::SpanFacts): the
-- source of truth the graph is derived from, re-read when a trace's build
-- changes (a run id arriving after the child spans, say).
CREATE TABLE span_facts (
    trace_id TEXT   NOT NULL,
    span_id  TEXT   NOT NULL,
    facts    TEXT   NOT NULL,
    received BIGINT NOT NULL,
    PRIMARY KEY (trace_id, span_id)
) WITHOUT ROWID;
