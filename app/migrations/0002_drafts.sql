-- Drafts saved while typing, so a crash loses nothing. The payload is the
-- compose form as JSON (addresses as typed, body, attachment paths).
CREATE TABLE drafts (
	id         TEXT PRIMARY KEY,
	updated_at INTEGER NOT NULL,
	payload    TEXT NOT NULL
);
