-- 3-D Secure for transfers: the sender card is challenged; the receiver card of a P2P transfer
-- is kept sealed until the challenge ends, so the confirm step can credit it (and save it).
ALTER TABLE three_ds_sessions ADD COLUMN receiver_pan_ciphertext TEXT;
ALTER TABLE three_ds_sessions ADD COLUMN receiver_expiry_mmyy TEXT NOT NULL DEFAULT '';
ALTER TABLE three_ds_sessions ADD COLUMN save_receiver BOOLEAN NOT NULL DEFAULT FALSE;
