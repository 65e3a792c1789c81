-- Running daily totals of transfers, one row per (subject, currency, day): what the terminal's
-- and the receiving card's daily transfer limits are checked against. Before this table every
-- limited transfer summed the day's transfers inside its transaction while holding its locks,
-- so each one cost more than the one before (docs/performance.md).
--
-- subject: 'terminal:<terminal id>' (the amounts of the terminal's approved transfers, in the
-- transfer's currency) or a receiving card's ledger account id ('card:…', what transfers
-- credited to it, in the account's currency). day_start_ms: midnight in Kazakhstan (UTC+5) as
-- Unix milliseconds, the day the money moved.
--
-- A row is created by the first limited transfer of its day, from the sum the old check made
-- (so databases from before this migration, and limits set during a day, count the whole day),
-- and then kept by every approved transfer.
CREATE TABLE transfer_daily_totals (
    subject      TEXT   NOT NULL,
    currency     TEXT   NOT NULL,
    day_start_ms BIGINT NOT NULL,
    total_minor  BIGINT NOT NULL CHECK (total_minor >= 0),
    PRIMARY KEY (subject, currency, day_start_ms)
);

