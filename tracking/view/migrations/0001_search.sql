-- Substring search over subjects and recipient addresses for the tracking
-- list. A trigram FTS5 index answers LIKE '%term%' without scanning every
-- recipient (terms of three characters or more).
CREATE VIRTUAL TABLE message_search USING fts5(message UNINDEXED, text, tokenize = 'trigram');

INSERT INTO message_search(message, text) SELECT id, subject FROM messages;
INSERT INTO message_search(message, text) SELECT message, address FROM recipients;

CREATE TRIGGER message_search_msg_ins AFTER INSERT ON messages BEGIN
	INSERT INTO message_search(message, text) VALUES (new.id, new.subject);
END;
CREATE TRIGGER message_search_rcpt_ins AFTER INSERT ON recipients BEGIN
	INSERT INTO message_search(message, text) VALUES (new.message, new.address);
END;
CREATE TRIGGER message_search_msg_del AFTER DELETE ON messages BEGIN
	DELETE FROM message_search WHERE message = old.id;
END;

CREATE INDEX recipients_message_status ON recipients(message, status);
CREATE INDEX recipients_status_message ON recipients(status, message);
