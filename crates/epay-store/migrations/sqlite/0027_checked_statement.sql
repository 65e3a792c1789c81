-- Nothing on SQLite: its writes' row counts are checked between the statements of one query by
-- migration 0025's `step_checks`. PostgreSQL's 0027 adds the function that checks them inside
-- one statement. This file keeps one version per migration on both backends.
SELECT 1;
