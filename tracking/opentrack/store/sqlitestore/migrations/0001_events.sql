-- Tracking events. AUTOINCREMENT (not a plain rowid) so that an ID is never
-- handed out twice, even after a purge deleted the newest rows: readers use
-- the last ID they saw as their cursor.
CREATE TABLE opentrack_events(
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	at_us      INTEGER NOT NULL,             -- Unix microseconds, UTC
	kind       TEXT NOT NULL CHECK (kind IN ('open', 'click')),
	copy_id    TEXT NOT NULL,
	key_id     TEXT NOT NULL,
	link_hash  TEXT NOT NULL DEFAULT '',
	ua_class   TEXT NOT NULL,
	user_agent TEXT NOT NULL DEFAULT '',
	source     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX opentrack_events_at ON opentrack_events(at_us);
