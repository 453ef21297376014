-- 004-search.sql - substring search by a trigram index, so that search and list
-- query= read the packages holding the query's rarest trigram, not every package.
-- Applied by lib/storage-sqlite.c inside one transaction when PRAGMA user_version < 4.
--
-- Look-ups:
--   the number of packages holding each trigram of a       trigram_counts PRIMARY KEY
--     query (to pick the rarest)
--   the packages holding one trigram                      package_trigrams PRIMARY KEY
--   substrings shorter than 3 characters                  a scan of packages UNIQUE
--                                                          (namespace, name), bounded
--                                                          by the query's limit
--
-- A trigram is 3 consecutive characters of lower("ns/name") (names are ASCII: a
-- character is a byte). Kept by the triggers below in the transaction that creates
-- or deletes the package (a package's namespace and name never change). The storage
-- checks each candidate with the exact rule (instr over lower()).
-- (SQLite's FTS5 trigram tokenizer was tried first: a phrase query merges the
-- posting lists of every trigram of the text, so names sharing a common part, as
-- "pkg0050000" among 100,000 "pkgNNNNNNN", cost as much as the store is large.)

-- Which package holds which trigram (each once).
CREATE TABLE package_trigrams (
	trigram     TEXT NOT NULL,
	package_id  INTEGER NOT NULL,
	PRIMARY KEY (trigram, package_id)
) WITHOUT ROWID;

-- How many packages hold each trigram (a row exists while n > 0 or until reused).
CREATE TABLE trigram_counts (
	trigram  TEXT PRIMARY KEY,
	n        INTEGER NOT NULL
) WITHOUT ROWID;

-- 1 .. 130: the positions a trigram can start at in "ns/name" (two names of at most
-- 64 characters and the slash; triggers cannot use a recursive WITH, so the positions
-- are a table).
CREATE TABLE trigram_positions (k INTEGER PRIMARY KEY);
WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < 130)
	INSERT INTO trigram_positions (k) SELECT k FROM i;

CREATE TRIGGER package_trigrams_count AFTER INSERT ON package_trigrams BEGIN
	INSERT INTO trigram_counts (trigram, n) VALUES (new.trigram, 1)
		ON CONFLICT (trigram) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER package_trigrams_uncount AFTER DELETE ON package_trigrams BEGIN
	UPDATE trigram_counts SET n = n - 1 WHERE trigram = old.trigram;
END;

CREATE TRIGGER packages_trigrams_insert AFTER INSERT ON packages BEGIN
	INSERT OR IGNORE INTO package_trigrams (trigram, package_id)
		SELECT substr(lower(new.namespace || '/' || new.name), k, 3), new.id
		FROM trigram_positions
		WHERE k <= length(new.namespace) + length(new.name) - 1;
END;

CREATE TRIGGER packages_trigrams_delete AFTER DELETE ON packages BEGIN
	DELETE FROM package_trigrams WHERE package_id = old.id AND trigram IN (
		SELECT substr(lower(old.namespace || '/' || old.name), k, 3)
		FROM trigram_positions
		WHERE k <= length(old.namespace) + length(old.name) - 1);
END;

-- the packages stored before this index
INSERT OR IGNORE INTO package_trigrams (trigram, package_id)
	SELECT substr(lower(p.namespace || '/' || p.name), t.k, 3), p.id
	FROM packages p JOIN trigram_positions t
	ON t.k <= length(p.namespace) + length(p.name) - 1;
