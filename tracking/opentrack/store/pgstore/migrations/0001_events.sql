CREATE TABLE opentrack_events(
	id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at         TIMESTAMPTZ NOT NULL,
	kind       TEXT NOT NULL CHECK (kind IN ('open', 'click')),
	copy_id    TEXT NOT NULL,
	key_id     TEXT NOT NULL,
	link_hash  TEXT NOT NULL DEFAULT '',
	ua_class   TEXT NOT NULL,
	user_agent TEXT NOT NULL DEFAULT '',
	source     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX opentrack_events_at ON opentrack_events(at);
