-- Copies of one message differ in a few hundred bytes (a per-recipient
-- tracking header and pixel) and share the rest, attachments included. A
-- copy may be stored as what it does not share with the message's first
-- copy: base names that copy, base_prefix and base_suffix count the
-- leading and trailing bytes taken from it, and body holds the bytes in
-- between (CopyBodyColumns puts them together). A base is always a whole
-- body, never a shared one.
ALTER TABLE copies ADD COLUMN base INTEGER REFERENCES copies(id);
ALTER TABLE copies ADD COLUMN base_prefix INTEGER NOT NULL DEFAULT 0;
ALTER TABLE copies ADD COLUMN base_suffix INTEGER NOT NULL DEFAULT 0;
