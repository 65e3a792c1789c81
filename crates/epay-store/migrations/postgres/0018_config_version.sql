-- The configuration version: one number that every change to merchants or terminals raises, in
-- the transaction that makes the change. Each gateway node keeps merchants and terminals in
-- memory (epay-store's config cache), LISTENs on `epay_config` and reads this number every
-- ~250 ms as a safety net; a notification, or a number it has not seen, drops its copy.
-- Triggers raise it, so no write path can forget to, including a hand edit and a write path
-- added later. NOTIFY is sent at commit, and not at all if the transaction rolls back.
--
-- BEFORE each statement, not after: a transaction that changes configuration takes the
-- version row's lock before any merchant or terminal row lock, so two such transactions never
-- wait for each other in opposite orders (upsert_merchant writes a merchant then its terminals
-- while upsert_terminal writes one terminal). Payments never write these tables.

CREATE TABLE config_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);

INSERT INTO config_version (id, version) VALUES (1, 1);

CREATE FUNCTION config_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bumped BIGINT;
BEGIN
    UPDATE config_version SET version = version + 1 WHERE id = 1 RETURNING version INTO bumped;
    PERFORM pg_notify('epay_config', bumped::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER merchants_config_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON merchants
    FOR EACH STATEMENT EXECUTE FUNCTION config_version_bump();

CREATE TRIGGER terminals_config_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON terminals
    FOR EACH STATEMENT EXECUTE FUNCTION config_version_bump();
