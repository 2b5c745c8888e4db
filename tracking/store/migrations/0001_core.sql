-- Core delivery model (DESIGN.md section 2). Times are Unix milliseconds UTC.
CREATE TABLE messages (
	id           TEXT PRIMARY KEY,          -- short id printed by `mailroom send`
	account      TEXT NOT NULL,             -- account name
	from_addr    TEXT NOT NULL,
	subject      TEXT NOT NULL DEFAULT '',
	message_id   TEXT NOT NULL UNIQUE,      -- "<...>", fixed at enqueue
	created_at   INTEGER NOT NULL,
	due_at       INTEGER NOT NULL,          -- send later; = created_at otherwise
	track_opens  INTEGER NOT NULL DEFAULT 0,
	track_clicks INTEGER NOT NULL DEFAULT 0,
	size         INTEGER NOT NULL DEFAULT 0,
	held_reason  TEXT NOT NULL DEFAULT '',  -- non-empty: the outbox leaves it alone (poison, uncertain policy)
	crash_count  INTEGER NOT NULL DEFAULT 0,
	last_event_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_created ON messages(created_at DESC);
CREATE INDEX messages_account ON messages(account, created_at DESC);

-- One wire copy: the whole message for everyone, or one per recipient when
-- the copy is personalized (tracking pixel). ENVID is unique per copy.
CREATE TABLE copies (
	id          INTEGER PRIMARY KEY,
	message     TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	envid       TEXT NOT NULL UNIQUE,
	tracking_id TEXT NOT NULL DEFAULT '',
	body        BLOB NOT NULL
);
CREATE INDEX copies_message ON copies(message);
CREATE INDEX copies_tracking ON copies(tracking_id) WHERE tracking_id <> '';

CREATE TABLE recipients (
	id              INTEGER PRIMARY KEY,
	message         TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	copy            INTEGER NOT NULL REFERENCES copies(id) ON DELETE CASCADE,
	address         TEXT NOT NULL,           -- as sent in RCPT TO
	kind            TEXT NOT NULL DEFAULT 'to', -- to|cc|bcc
	status          TEXT NOT NULL,           -- derived from events (tracking.Derive); a cache, never the source of truth
	next_attempt_at INTEGER NOT NULL DEFAULT 0,
	attempts        INTEGER NOT NULL DEFAULT 0,
	first_attempt_at INTEGER NOT NULL DEFAULT 0,
	offline_ms      INTEGER NOT NULL DEFAULT 0, -- time not charged to the give-up clock
	last_reply      TEXT NOT NULL DEFAULT '',   -- plain words of the last reply
	trackable       INTEGER NOT NULL DEFAULT 0, -- copy carries a pixel
	opens_total     INTEGER NOT NULL DEFAULT 0,
	opens_human     INTEGER NOT NULL DEFAULT 0,
	opens_machine   INTEGER NOT NULL DEFAULT 0,
	clicks          INTEGER NOT NULL DEFAULT 0,
	read            INTEGER NOT NULL DEFAULT 0,
	replied         INTEGER NOT NULL DEFAULT 0,
	last_event_at   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX recipients_message ON recipients(message);
CREATE INDEX recipients_address ON recipients(address);
CREATE INDEX recipients_due ON recipients(status, next_attempt_at);

-- Every fact about a recipient, with its evidence. dedup_key makes ingestion
-- idempotent (the same DSN fetched twice adds one event).
CREATE TABLE events (
	id            INTEGER PRIMARY KEY,
	recipient     INTEGER NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
	at            INTEGER NOT NULL,
	kind          TEXT NOT NULL,
	source        TEXT NOT NULL,
	command       TEXT NOT NULL DEFAULT '',
	code          INTEGER NOT NULL DEFAULT 0,
	enhanced_code TEXT NOT NULL DEFAULT '',
	text          TEXT NOT NULL DEFAULT '',
	match         TEXT NOT NULL DEFAULT '',  -- envid|orcpt|tracking-id|message-id|address (reports)
	detail        TEXT NOT NULL DEFAULT '{}', -- JSON evidence (DSN fields, open class and reason, ...)
	report        INTEGER,                  -- reports.id when the event came from a report
	dedup_key     TEXT UNIQUE
);
CREATE INDEX events_recipient ON events(recipient, at);
CREATE INDEX events_at ON events(at);

CREATE TABLE suppressions (
	address  TEXT PRIMARY KEY,   -- lower-cased
	reason   TEXT NOT NULL,
	added_at INTEGER NOT NULL,
	event    INTEGER REFERENCES events(id) ON DELETE SET NULL
);

-- Settings of the delivery domain (retry policy, tracking mode, ...): plain
-- keys documented in docs/CONFIG.md. Never secrets.
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
