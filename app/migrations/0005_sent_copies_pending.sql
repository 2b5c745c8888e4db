-- The Sent-copy appender looks for copies not yet appended after every
-- change of the outbox (not only once a minute): without this index that
-- look read every copy ever sent.
CREATE INDEX sent_copies_pending ON sent_copies(message) WHERE appended_at = 0;
