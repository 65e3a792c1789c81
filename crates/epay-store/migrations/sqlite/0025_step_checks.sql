-- A queued write's row count, checked by the database between the statements of one query
-- (src/sql/pipeline.rs). A write that must change exactly one row (a compare-and-set, a ledger
-- transfer between accounts of one currency) is followed by an insert here of how many rows it
-- changed, made only when that is not one; the CHECK refuses the row, so the query stops there,
-- before anything after it, and the unit of work fails with the write's own error. That lets a
-- unit's RELEASE ride in the same query as its last writes even when one of them is checked.
-- No row is ever stored: the table stays empty.
CREATE TABLE step_checks (
    changed INTEGER NOT NULL CONSTRAINT step_changes_one_row CHECK (changed = 1)
);
