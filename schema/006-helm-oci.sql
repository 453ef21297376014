-- 006-helm-oci.sql - the OCI artifact of a valid chart release (the Helm bridge: its
-- Helm config and image manifest, lib/oci-helm.c), made once when the chart fields are
-- stored (a push, or the first look at a release pushed before charts were examined)
-- and served as stored, so that the release's OCI digest never changes. Applied by
-- lib/storage-sqlite.c inside one transaction when PRAGMA user_version < 6.
--
-- A table of its own, as charts is one of its own (see 003-charts.sql): index.yaml
-- reads charts rows, which stay small. No row: a release whose chart fields were
-- stored before this table existed, or whose .tgz SHA-256 was unknown then; its
-- artifact is made from the chart fields when asked for (the same bytes today).
CREATE TABLE helm_oci (
	release_id  INTEGER PRIMARY KEY REFERENCES releases (id) ON DELETE CASCADE,
	config      TEXT NOT NULL,    -- the config blob's bytes
	manifest    TEXT NOT NULL     -- the image manifest's bytes
);
