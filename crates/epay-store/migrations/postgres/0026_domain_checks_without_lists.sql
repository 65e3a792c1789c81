-- Nothing on PostgreSQL: its domain rules are CHECK constraints (0015, 0016), which build no
-- table to test a list. SQLite's 0026 rewrites its triggers that did. This file keeps one version
-- per migration on both backends.
SELECT 1;
