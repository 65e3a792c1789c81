-- Callbacks for charge, cancel, refund and expiry are not ePay's (it documents only the payment's
-- outcome), and a handler written for ePay's payment callback must never meet one by surprise:
-- they are sent only for a terminal whose merchant turned them on (docs/compatibility.md 46).
-- Every existing terminal starts with them off.
ALTER TABLE terminals ADD COLUMN operation_callbacks BOOLEAN NOT NULL DEFAULT FALSE;
