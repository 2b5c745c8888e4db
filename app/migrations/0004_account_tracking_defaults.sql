-- Per-account defaults for "Track opens" and "Track clicks" on new
-- messages: 'global' follows the settings tracking.default_opens and
-- tracking.default_clicks (what every account did before), 'on' and 'off'
-- override them for this account.
ALTER TABLE accounts ADD COLUMN track_opens TEXT NOT NULL DEFAULT 'global'
	CHECK (track_opens IN ('global','on','off'));
ALTER TABLE accounts ADD COLUMN track_clicks TEXT NOT NULL DEFAULT 'global'
	CHECK (track_clicks IN ('global','on','off'));
