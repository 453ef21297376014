-- 004-search.sql - substring search by a trigram index, so that search and list
-- query= answer in time independent of the number of packages. Applied by
-- lib/storage-sqlite.c inside one transaction when PRAGMA user_version < 4.
--
-- Look-ups:
--   packages whose "ns/name" holds a substring of at     package_names (FTS5 trigram):
--     least 3 characters, case-insensitively               MATCH '"text"'
--   shorter substrings                                    a scan of packages UNIQUE
--                                                          (namespace, name), bounded
--                                                          by the query's limit
--
-- One row per package, rowid = packages.id, full = "ns/name"; kept by the triggers
-- below in the transaction that creates or deletes the package (a package's
-- namespace and name never change). The trigram tokenizer folds case, so a phrase
-- query of the text matches every name holding it as a substring in any case; the
-- storage still checks each candidate with the exact rule (instr over lower()).

CREATE VIRTUAL TABLE package_names USING fts5 (full, tokenize = 'trigram');

INSERT INTO package_names (rowid, full)
	SELECT id, namespace || '/' || name FROM packages;

CREATE TRIGGER package_names_insert AFTER INSERT ON packages BEGIN
	INSERT INTO package_names (rowid, full) VALUES (new.id, new.namespace || '/' || new.name);
END;

CREATE TRIGGER package_names_delete AFTER DELETE ON packages BEGIN
	DELETE FROM package_names WHERE rowid = old.id;
END;
