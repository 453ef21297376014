-- 005-oci.sql - the OCI Distribution API's store (lib/oci-sqlite.c): repository blob
-- links, manifests kept byte for byte, tags and upload sessions. Blob bytes are files
-- data_dir/oci/sha256/<2 hex>/<64 hex>, named by the SHA-256 of their bytes.
-- Applied by lib/storage-sqlite.c inside one transaction when PRAGMA user_version < 5.
--
-- A repository is "ns/name". A blob is readable through a repository when the
-- repository received it (oci_blob_links: an upload or a mount) or one of its
-- manifests references it (oci_manifest_refs).

CREATE TABLE oci_blobs (
	digest TEXT PRIMARY KEY,          -- 64 lowercase hex: the SHA-256 of the bytes
	size INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE oci_blob_links (
	repo TEXT NOT NULL,
	digest TEXT NOT NULL REFERENCES oci_blobs(digest),
	PRIMARY KEY (repo, digest)
) WITHOUT ROWID;

CREATE TABLE oci_manifests (
	repo TEXT NOT NULL,
	digest TEXT NOT NULL,             -- SHA-256 of body, 64 lowercase hex
	media_type TEXT NOT NULL,
	artifact_type TEXT,
	subject TEXT,                     -- the digest (64 hex) of the subject, or NULL
	body BLOB NOT NULL,               -- the bytes as pushed
	created_at TEXT NOT NULL,
	PRIMARY KEY (repo, digest)
) WITHOUT ROWID;
CREATE INDEX oci_manifests_subject ON oci_manifests (repo, subject) WHERE subject IS NOT NULL;

-- What a manifest references: blobs (config, layers) and, for an index, manifests.
CREATE TABLE oci_manifest_refs (
	repo TEXT NOT NULL,
	manifest TEXT NOT NULL,
	digest TEXT NOT NULL,
	PRIMARY KEY (repo, manifest, digest),
	FOREIGN KEY (repo, manifest) REFERENCES oci_manifests (repo, digest) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX oci_manifest_refs_digest ON oci_manifest_refs (repo, digest);

CREATE TABLE oci_tags (
	repo TEXT NOT NULL,
	tag TEXT NOT NULL,
	digest TEXT NOT NULL,
	PRIMARY KEY (repo, tag),
	FOREIGN KEY (repo, digest) REFERENCES oci_manifests (repo, digest) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX oci_tags_digest ON oci_tags (repo, digest);

-- Upload sessions: bytes so far in data_dir/oci/uploads/<uuid>.
CREATE TABLE oci_uploads (
	uuid TEXT PRIMARY KEY,
	repo TEXT NOT NULL,
	created INTEGER NOT NULL          -- seconds since the epoch
) WITHOUT ROWID;
