-- PostgreSQL indexes the records' search text by trigrams here (see its
-- migration of the same number); SQLite reads the resource's records.
SELECT 1;
