-- The untracked copy of each sent message, appended to the account's IMAP
-- Sent mailbox once the server accepted it (unless the provider files sent
-- mail itself). Never carries a pixel or a tracking header.
CREATE TABLE sent_copies (
	message     TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
	body        BLOB NOT NULL,
	appended_at INTEGER NOT NULL DEFAULT 0,
	attempts    INTEGER NOT NULL DEFAULT 0,
	error       TEXT NOT NULL DEFAULT ''
);
