-- Outbox bookkeeping beside the core tables (tracking/store). Times are Unix
-- milliseconds UTC, like the core tables.

-- One row per attempt at one copy, committed BEFORE connecting: a crash
-- leaves an open row (ended_at = 0) that recovery closes. body_sent is set
-- the moment the session has read the whole body, just before the final
-- "."; an open attempt with body_sent = 1 may have been delivered
-- (uncertain), one with body_sent = 0 certainly was not.
CREATE TABLE outbox_attempts (
	id            INTEGER PRIMARY KEY,
	message       TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	copy          INTEGER NOT NULL REFERENCES copies(id) ON DELETE CASCADE,
	account       TEXT NOT NULL,
	number        INTEGER NOT NULL,          -- attempt number (highest over the copy's recipients)
	started_at    INTEGER NOT NULL,
	next_at       INTEGER NOT NULL,          -- the retry time committed with the attempt
	ended_at      INTEGER NOT NULL DEFAULT 0, -- 0 while in flight (or crashed, until recovery)
	body_sent     INTEGER NOT NULL DEFAULT 0,
	outcome       TEXT NOT NULL DEFAULT '',  -- done|crashed|panic|dial-failed|skipped
	server        TEXT NOT NULL DEFAULT '',
	dsn_requested INTEGER NOT NULL DEFAULT 0,
	error         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_attempts_open ON outbox_attempts(message) WHERE ended_at = 0;
CREATE INDEX outbox_attempts_copy ON outbox_attempts(copy, started_at);

-- Per-account state that must survive a restart: a pause (by the user, or
-- after 535) and the circuit breaker of an unreachable server.
CREATE TABLE outbox_accounts (
	account           TEXT PRIMARY KEY,
	paused_reason     TEXT NOT NULL DEFAULT '',  -- non-empty: paused
	paused_by         TEXT NOT NULL DEFAULT '',  -- user|auth|server
	paused_at         INTEGER NOT NULL DEFAULT 0,
	unreachable_since INTEGER NOT NULL DEFAULT 0, -- non-zero: breaker open
	next_probe_at     INTEGER NOT NULL DEFAULT 0,
	probes            INTEGER NOT NULL DEFAULT 0,
	last_error        TEXT NOT NULL DEFAULT ''
);

-- A cancel asked for while the recipient was in flight: applied when the
-- attempt ends, unless the server accepted it meanwhile.
CREATE TABLE outbox_cancels (
	recipient    INTEGER PRIMARY KEY REFERENCES recipients(id) ON DELETE CASCADE,
	requested_at INTEGER NOT NULL
);

-- The due scan: only unfinished recipients, ordered by their next attempt.
-- The WHERE clause must match the queries in due.go word for word.
CREATE INDEX outbox_due ON recipients(next_attempt_at) WHERE status IN ('queued','deferred','uncertain');
CREATE INDEX outbox_copy_rcpts ON recipients(copy);
