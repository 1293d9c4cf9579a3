-- The data tabs search a connection's records by words anywhere in their
-- title and fields (`search LIKE '%word%'`): a trigram index answers that
-- without reading every record of the resource. pg_trgm ships with
-- PostgreSQL and is trusted (a database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX connector_records_search ON connector_records USING gin (search gin_trgm_ops);
