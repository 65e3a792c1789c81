-- A queued write's row count, checked inside the one statement that carries a unit's writes when
-- that statement is its own transaction (src/sql/pipeline.rs, a payment decided ahead:
-- src/sql/read_ahead.rs). The statement's answer names each write's count; a write that must
-- change exactly one row (a compare-and-set, a ledger transfer between accounts of one currency)
-- has its count passed through this function, which raises when it is not one. The error ends
-- the statement, and with it its transaction: none of its writes remain. Checked after the
-- answer came back instead, the writes would already be committed.
CREATE FUNCTION epay_step_changed_one(step INTEGER, changed BIGINT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
BEGIN
    IF changed <> 1 THEN
        RAISE EXCEPTION 'step_changes_one_row: step % changed % rows', step, changed;
    END IF;
    RETURN changed;
END
$$;
