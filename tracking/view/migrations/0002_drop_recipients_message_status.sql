-- recipients_message_status (message, status) is rewritten on every status
-- change (three per copy sent) and buys nothing: the per-message lookups
-- use the store's recipients_message (message) and read a few rows each,
-- and the status filter and counts use recipients_status_message.
-- bench/view on 100,000 messages: every query within 5% with and without
-- it; each result commit of the outbox writes ~2 WAL pages fewer.
DROP INDEX IF EXISTS recipients_message_status;
