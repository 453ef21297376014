-- 003-charts.sql - what a Helm chart repository index needs, kept at push time: per
-- manifest the SHA-256 of its stored blob; per helm release its chart's index fields
-- or why its blob is not a chart; per namespace a change stamp. Applied by
-- lib/storage-sqlite.c inside one transaction when PRAGMA user_version < 3.
--
-- Look-ups:
--   helm manifests of a namespace, by name then release   packages UNIQUE (namespace,
--     highest first, with their charts (list_charts)       name) + releases_by_sortkey +
--                                                          manifests PRIMARY KEY +
--                                                          charts PRIMARY KEY
--   the sha256 already recorded for a blob (a push of a    manifests_by_digest
--     digest that is stored already)
--   the stamp of a namespace (a 304 on index.yaml)         namespaces PRIMARY KEY
--
-- Existing manifests get blob_sha256 NULL (unknown) and no charts row (not examined
-- yet: lib/helm.c examines such a release once and records what it found).

-- SHA-256 (lowercase hex) of the stored blob's bytes (the .tgz as served): the bytes
-- first stored under the digest, which may not be the bytes of this push.
ALTER TABLE manifests ADD COLUMN blob_sha256 TEXT NULL;

-- What the blob of a release's helm manifest was found to be: a valid chart of the
-- release (chart: its index fields, lib/chart.h JSON) or not (chart_problem: why);
-- exactly one of the two is set. No row: not examined yet. The row goes with the
-- helm manifest. A table of its own rather than columns of manifests: index entries
-- run to a few KiB, and a row that large in the WITHOUT ROWID manifests table spills
-- into overflow pages, which made reading 10,000 of them 3 to 4 times slower.
CREATE TABLE charts (
	release_id     INTEGER PRIMARY KEY REFERENCES releases (id) ON DELETE CASCADE,
	chart          TEXT NULL,
	chart_problem  TEXT NULL
);

-- One row per namespace anything was ever stored in, never deleted: stamp grows by
-- one with every change under the namespace (push, delete, set_chart), in the
-- transaction of the change; changed_at is when (util_utc_now form).
CREATE TABLE namespaces (
	name        TEXT PRIMARY KEY,
	stamp       INTEGER NOT NULL,
	changed_at  TEXT NOT NULL
) WITHOUT ROWID;

-- The namespaces stored before this migration: changed "now" as far as anyone knows.
INSERT INTO namespaces (name, stamp, changed_at)
	SELECT namespace, 1, strftime('%Y-%m-%dT%H:%M:%f000', 'now')
	FROM packages GROUP BY namespace;
