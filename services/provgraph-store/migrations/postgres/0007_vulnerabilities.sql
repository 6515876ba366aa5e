-- Vulnerabilities and VEX (postgres). Keep in step with ../sqlite/0007_vulnerabilities.sql.
-- Times in ms since the epoch: first_seen/last_seen at receipt, modified and
-- statement times as the documents write them.

-- One row per OSV record, keyed by its VULNERABILITY node (key: the OSV id).
-- `record` is the record as parsed (JSON of provgraph_vuln::OsvRecord), read
-- back to match modules that appear later. A re-import replaces the row only
-- when its `modified` is newer. `origin` is CLAIMED (posted bare) or PROVEN
-- (inside a verified attestation); `source` names the document
-- (`osv:sha256:<hex>`), `principal` the authenticated sender if any.
CREATE TABLE vuln_records (
    node_id    BIGINT PRIMARY KEY,
    osv_id     TEXT   NOT NULL,
    modified   BIGINT,
    withdrawn  BIGINT,
    summary    TEXT,
    severity   TEXT   NOT NULL,
    refs       TEXT   NOT NULL,
    record     TEXT   NOT NULL,
    origin     TEXT   NOT NULL,
    source     TEXT   NOT NULL,
    principal  TEXT,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);

-- Every name of a VULNERABILITY node, lower-cased: its own key, and each
-- alias of its record. Many to many: an alias may name several records
-- (CVE-2023-44487 is GO-2023-2102 and GHSA-qppj-fm5r-hxr3), and a record
-- has several aliases. `name` as written is kept in `written`.
CREATE TABLE vuln_names (
    name    TEXT   NOT NULL,
    node_id BIGINT NOT NULL,
    written TEXT   NOT NULL,
    PRIMARY KEY (name, node_id)
);
CREATE INDEX vuln_names_by_node ON vuln_names (node_id);

-- Which records name a package (a Go module path, stdlib, toolchain, or a
-- purl without version; provgraph_vuln::Affected::package_key): how a module
-- that appears later finds the records that may cover it.
CREATE TABLE vuln_packages (
    package TEXT   NOT NULL,
    node_id BIGINT NOT NULL,
    PRIMARY KEY (package, node_id)
);
CREATE INDEX vuln_packages_by_node ON vuln_packages (node_id);

-- Scanner findings on an image (each backs the AFFECTS edge vulnerability ->
-- artifact together with its edge_evidence row): which scanner, govulncheck's
-- level (called, imported, required), the package and version it named.
CREATE TABLE vuln_findings (
    vuln_id     BIGINT NOT NULL,
    artifact_id BIGINT NOT NULL,
    scanner     TEXT   NOT NULL,
    package     TEXT   NOT NULL,
    version     TEXT,
    level       TEXT,
    origin      TEXT   NOT NULL,
    source      TEXT   NOT NULL,
    principal   TEXT,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    PRIMARY KEY (vuln_id, artifact_id, scanner, package)
);
CREATE INDEX vuln_findings_by_artifact ON vuln_findings (artifact_id);

-- OpenVEX statements on images: the latest (by `stated_at`, the statement's
-- timestamp, else the document's, else receipt) for a vulnerability and an
-- image is in force; not_affected and fixed rule the image out.
CREATE TABLE vex_statements (
    vuln_id          BIGINT NOT NULL,
    artifact_id      BIGINT NOT NULL,
    source           TEXT   NOT NULL,
    status           TEXT   NOT NULL,
    justification    TEXT,
    impact_statement TEXT,
    stated_at        BIGINT NOT NULL,
    origin           TEXT   NOT NULL,
    principal        TEXT,
    first_seen       BIGINT NOT NULL,
    PRIMARY KEY (vuln_id, artifact_id, source)
);
CREATE INDEX vex_statements_by_artifact ON vex_statements (artifact_id);

-- How far the matcher has looked at new MODULE, PACKAGE and GOMOD nodes
-- (node ids at or below `upto` were matched against the records).
CREATE TABLE vuln_match_state (
    one  SMALLINT PRIMARY KEY CHECK (one = 1),
    upto BIGINT   NOT NULL
);
INSERT INTO vuln_match_state (one, upto) VALUES (1, 0);
