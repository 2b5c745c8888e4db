-- Matching by ORCPT and by address compares lower(recipients.address): this
-- expression index keeps those lookups from scanning every recipient ever
-- sent to. It lives on the core table but belongs to this component, which
-- is its only user.
CREATE INDEX IF NOT EXISTS reports_recipients_lower_address ON recipients(lower(address));
