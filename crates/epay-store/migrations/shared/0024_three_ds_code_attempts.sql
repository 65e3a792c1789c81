-- Wrong one-time codes a 3-D Secure challenge has had. The simulated ACS lets a shopper retry a
-- mistyped code, as real ACSs do, and fails the challenge at the third wrong one
-- (docs/security.md, "3-D Secure code attempts"). Counted by one UPDATE that also checks the
-- challenge still waits, so parallel wrong answers cannot get more tries between them.
ALTER TABLE three_ds_sessions ADD COLUMN code_failures INTEGER NOT NULL DEFAULT 0;
