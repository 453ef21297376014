-- 002-auth.sql - users, their per-namespace grants and their API tokens (auth = tokens).
-- Applied by lib/storage-sqlite.c inside one transaction when PRAGMA user_version < 2.
--
-- Every look-up the auth operations make is index-driven:
--   user by name, users in name order                  users PRIMARY KEY
--   grants of a user by namespace, all by (user, ns)   grants PRIMARY KEY
--   token by hash (every authenticated request)        tokens UNIQUE (hash)
--   token by id (revoke)                               tokens PRIMARY KEY
--   tokens of a user by created_at                     tokens_by_user
-- Deleting a user cascades to its grants and tokens (foreign keys are on).
-- packages.visibility (001) holds 'public' or 'private'; listings of a reader that
-- may not see every private package filter on it.

-- A user. password_hash is lib/auth.h's format, NULL when the user has no password
-- (tokens only).
CREATE TABLE users (
	name           TEXT PRIMARY KEY,
	password_hash  TEXT NULL,
	created_at     TEXT NOT NULL          -- util_utc_now()
) WITHOUT ROWID;

-- A user's level on one namespace ("*": every namespace): 1 read, 2 write, 3 admin.
-- No row means no grant (level none).
CREATE TABLE grants (
	user       TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	namespace  TEXT NOT NULL,
	level      INTEGER NOT NULL CHECK (level BETWEEN 1 AND 3),
	PRIMARY KEY (user, namespace)
) WITHOUT ROWID;

-- An API token: only the SHA-256 hex of the secret is stored. id is public (16 hex),
-- namespace NULL means every namespace of the user, scope caps the user's level,
-- expires_at is unix seconds (0 = never).
CREATE TABLE tokens (
	id          TEXT PRIMARY KEY,
	user        TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	hash        TEXT NOT NULL UNIQUE,
	namespace   TEXT NULL,
	scope       INTEGER NOT NULL CHECK (scope BETWEEN 0 AND 3),
	expires_at  INTEGER NOT NULL DEFAULT 0,
	created_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX tokens_by_user ON tokens (user, created_at);
