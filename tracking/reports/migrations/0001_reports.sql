-- Reports fetched from the accounts' mailboxes (component "reports").
-- Every fetched report is kept, raw and parsed, matched or not: a report that
-- matches nothing is evidence the user may still need. Times are Unix ms UTC.
CREATE TABLE reports (
	id           INTEGER PRIMARY KEY,
	account      TEXT NOT NULL DEFAULT '',
	mailbox      TEXT NOT NULL DEFAULT '',
	uid_validity INTEGER NOT NULL DEFAULT 0,
	uid          INTEGER NOT NULL DEFAULT 0,   -- 0: not from IMAP (mailroom inspect, tests)
	message_id   TEXT NOT NULL DEFAULT '',     -- the report's own Message-ID
	sha256       TEXT NOT NULL DEFAULT '',     -- of raw; dedup for reports without Message-ID
	received_at  INTEGER NOT NULL,             -- when Mailroom fetched it
	report_date  INTEGER NOT NULL DEFAULT 0,   -- its Date header
	kind         TEXT NOT NULL,                -- dsn|mdn|bounce|reply|not-a-report|skipped
	size         INTEGER NOT NULL DEFAULT 0,
	raw          BLOB,                         -- NULL when skipped (too large) or not a report
	parsed       TEXT NOT NULL DEFAULT '{}',   -- report.InspectView JSON
	matched      INTEGER NOT NULL DEFAULT 0,   -- recipients matched; 0 = unmatched
	unmatched    INTEGER NOT NULL DEFAULT 0,   -- recipients named but not matched
	note         TEXT NOT NULL DEFAULT '',     -- why unmatched / skipped, in plain words
	filed        INTEGER NOT NULL DEFAULT 0    -- moved into reports.file_into
);
CREATE UNIQUE INDEX reports_location ON reports(account, mailbox, uid_validity, uid) WHERE uid <> 0;
CREATE UNIQUE INDEX reports_message_id ON reports(message_id) WHERE message_id <> '';
CREATE UNIQUE INDEX reports_sha256 ON reports(sha256) WHERE sha256 <> '';
CREATE INDEX reports_unmatched ON reports(received_at) WHERE matched = 0;

-- Incremental IMAP sync state per account and mailbox (RFC 3501 2.3.1.1):
-- UIDs are only meaningful together with UIDVALIDITY; when it changes, the
-- mailbox is rescanned from UID 1 and dedup keeps that idempotent.
CREATE TABLE imap_sync (
	account      TEXT NOT NULL,
	mailbox      TEXT NOT NULL,
	uid_validity INTEGER NOT NULL,
	last_uid     INTEGER NOT NULL,   -- every UID <= last_uid has been looked at
	synced_at    INTEGER NOT NULL,
	PRIMARY KEY (account, mailbox)
);
