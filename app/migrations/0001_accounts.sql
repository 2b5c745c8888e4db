-- Accounts: where to submit and where to read reports. Never a password:
-- secrets live in the OS keyring, or come from password_command at use.
CREATE TABLE accounts (
	name             TEXT PRIMARY KEY,
	display_name     TEXT NOT NULL DEFAULT '',
	email            TEXT NOT NULL,
	smtp_host        TEXT NOT NULL,
	smtp_port        INTEGER NOT NULL,
	smtp_security    TEXT NOT NULL CHECK (smtp_security IN ('tls','starttls')),
	imap_host        TEXT NOT NULL DEFAULT '',
	imap_port        INTEGER NOT NULL DEFAULT 0,
	imap_security    TEXT NOT NULL DEFAULT 'tls' CHECK (imap_security IN ('tls','starttls')),
	username         TEXT NOT NULL,
	ca_file          TEXT NOT NULL DEFAULT '',
	password_source  TEXT NOT NULL CHECK (password_source IN ('keyring','command')),
	password_command TEXT NOT NULL DEFAULT '',
	saves_sent       INTEGER NOT NULL DEFAULT 0, -- provider files sent mail itself (no IMAP APPEND)
	created_at       INTEGER NOT NULL
);
