-- Image indexes (multi-arch) and their platform manifests (PostgreSQL). Keep in
-- step with ../sqlite/0003_index_members.sql. Each row backs one PART_OF
-- edge (member -> index); `source` says where the index manifest was read
-- (a registry URL), and the index digest itself binds the list.
CREATE TABLE index_members (
    index_id   BIGINT NOT NULL,
    member_id  BIGINT NOT NULL,
    platform   TEXT,
    source     TEXT   NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (index_id, member_id)
);
CREATE INDEX index_members_by_member ON index_members (member_id);
