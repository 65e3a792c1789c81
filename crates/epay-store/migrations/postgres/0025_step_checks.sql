-- Nothing on PostgreSQL: its queued writes are one statement whose answer carries each write's
-- row count, checked when it comes back (src/sql/pipeline.rs). SQLite's 0025 adds the table its
-- checks between statements need. This file keeps one version per migration on both backends.
SELECT 1;
