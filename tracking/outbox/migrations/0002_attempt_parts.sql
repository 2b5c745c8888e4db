-- parts_done: how many transactions of the attempt have their results
-- committed (a 452 splits an attempt). A hand-over mark in the
-- mailroom.db-sending file names the part it was written for; recovery
-- believes only a mark for the part in flight.
ALTER TABLE outbox_attempts ADD COLUMN parts_done INTEGER NOT NULL DEFAULT 0;
