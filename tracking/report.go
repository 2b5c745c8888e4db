package tracking

import "time"

// MessageStatus is one message as `mailroom status --json` and the JSON
// export print it (schema in docs/STATUS_JSON.md; fields may be added,
// never renamed).
type MessageStatus struct {
	ID         string            `json:"id"`
	MessageID  string            `json:"message_id"`
	Account    string            `json:"account"`
	Subject    string            `json:"subject"`
	CreatedAt  time.Time         `json:"created_at"`
	DueAt      time.Time         `json:"due_at"`
	Held       string            `json:"held,omitempty"`
	Recipients []RecipientStatus `json:"recipients"`
}

// RecipientStatus is one recipient with its status, engagement and events.
type RecipientStatus struct {
	ID            int64         `json:"-"`
	Address       string        `json:"address"`
	Kind          string        `json:"kind"` // to|cc|bcc
	Status        Status        `json:"status"`
	Opens         OpenCounts    `json:"opens"`
	Clicks        int           `json:"clicks"`
	Read          bool          `json:"read"`
	Replied       bool          `json:"replied"`
	Suppressed    bool          `json:"suppressed"`
	Trackable     bool          `json:"trackable"`
	Attempts      int           `json:"attempts"`
	NextAttemptAt *time.Time    `json:"next_attempt_at,omitempty"`
	LastReply     string        `json:"last_reply,omitempty"`
	Events        []EventStatus `json:"events"`
}

// OpenCounts splits opens by their honest label.
type OpenCounts struct {
	Total   int `json:"total"`
	Human   int `json:"human"`
	Machine int `json:"machine"`
}

// EventStatus is one event in the JSON form.
type EventStatus struct {
	At           time.Time `json:"at"`
	Kind         EventKind `json:"kind"`
	Source       Source    `json:"source"`
	Command      string    `json:"command,omitempty"`
	Code         int       `json:"code,omitempty"`
	EnhancedCode string    `json:"enhanced_code,omitempty"`
	Text         string    `json:"text,omitempty"`
	Match        string    `json:"match,omitempty"`
	Detail       any       `json:"detail,omitempty"`
}
