-- 001-init.sql - the initial schema: packages, their releases, one manifest per
-- (release, media type), and channels. Applied by lib/storage-sqlite.c inside one
-- transaction when PRAGMA user_version < 1. Blob bytes live outside the database,
-- as files named by digest (blobs/sha256/<2 hex>/<64 hex>).
--
-- Every look-up the storage makes is index-driven:
--   package by (namespace, name), namespace listing/ordering   packages UNIQUE
--   releases of a package in precedence order                  releases_by_sortkey
--   release by (package, version)                              releases UNIQUE
--   manifests of a release, one by media type                  manifests PRIMARY KEY
--   is a digest still referenced / blob of a package            manifests_by_digest
--   packages with a manifest of one media type (per package)   releases_by_sortkey + manifests PK
--   channels of a package, one by name                         channels UNIQUE
--   channels whose current is a release                        channels_by_current
--   members of a channel / channels holding a release          channel_releases PK / _by_release
-- Substring search scans the (namespace, name) index only: no table reads.

-- A package: exists exactly while it has at least one release.
CREATE TABLE packages (
	id          INTEGER PRIMARY KEY,
	namespace   TEXT NOT NULL,
	name        TEXT NOT NULL,
	visibility  TEXT NOT NULL DEFAULT 'public',
	created_at  TEXT NOT NULL,            -- util_utc_now(): YYYY-MM-DDTHH:MM:SS.ffffff
	UNIQUE (namespace, name)
);

-- A release (semver string as pushed); exists exactly while it has a manifest.
-- sortkey is semver_sortkey(version): memcmp order is semver precedence, so
-- "ORDER BY sortkey DESC" is "highest release first".
CREATE TABLE releases (
	id          INTEGER PRIMARY KEY,
	package_id  INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
	version     TEXT NOT NULL,
	sortkey     BLOB NOT NULL,
	created_at  TEXT NOT NULL,
	UNIQUE (package_id, version)
);
CREATE INDEX releases_by_sortkey ON releases (package_id, sortkey);

-- One manifest per (release, media type short form). digest names the blob file
-- (SHA-256 of the uncompressed tar, lowercase hex); size is the stored gzip bytes.
CREATE TABLE manifests (
	release_id  INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
	media_type  TEXT NOT NULL,
	digest      TEXT NOT NULL,
	size        INTEGER NOT NULL,
	metadata    TEXT NULL,                -- JSON text as pushed, NULL for null
	created_at  TEXT NOT NULL,
	PRIMARY KEY (release_id, media_type)
) WITHOUT ROWID;
CREATE INDEX manifests_by_digest ON manifests (digest);

-- A channel: a named set of releases of one package and its current member.
-- current_release_id has no cascade on purpose: the storage moves current before
-- a release goes, and the foreign key refuses a dangling current.
CREATE TABLE channels (
	id                  INTEGER PRIMARY KEY,
	package_id          INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
	name                TEXT NOT NULL,
	current_release_id  INTEGER NOT NULL REFERENCES releases (id),
	UNIQUE (package_id, name)
);
CREATE INDEX channels_by_current ON channels (current_release_id);

-- Channel membership.
CREATE TABLE channel_releases (
	channel_id  INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
	release_id  INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
	PRIMARY KEY (channel_id, release_id)
) WITHOUT ROWID;
CREATE INDEX channel_releases_by_release ON channel_releases (release_id);
