-- The configuration version: one number that every change to merchants or terminals raises, in
-- the transaction that makes the change. Each gateway node keeps merchants and terminals in
-- memory (epay-store's config cache) and reads this number every ~250 ms; a number it has not
-- seen drops its copy. Triggers raise it, so no write path can forget to, including a hand edit
-- and a write path added later. Two gateways may share one SQLite file: they learn each other's
-- changes the same way.

CREATE TABLE config_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);

INSERT INTO config_version (id, version) VALUES (1, 1);

CREATE TRIGGER merchants_config_insert AFTER INSERT ON merchants
BEGIN
    UPDATE config_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER merchants_config_update AFTER UPDATE ON merchants
BEGIN
    UPDATE config_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER merchants_config_delete AFTER DELETE ON merchants
BEGIN
    UPDATE config_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER terminals_config_insert AFTER INSERT ON terminals
BEGIN
    UPDATE config_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER terminals_config_update AFTER UPDATE ON terminals
BEGIN
    UPDATE config_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER terminals_config_delete AFTER DELETE ON terminals
BEGIN
    UPDATE config_version SET version = version + 1 WHERE id = 1;
END;
