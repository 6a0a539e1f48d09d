-- Department-scoped ticket search is a Postgres index (see
-- migrations/postgres/0009_scoped_search.sql); on SQLite, FTS5 serves every
-- search. This migration keeps both histories the same length.
SELECT 1;
