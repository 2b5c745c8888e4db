package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"mailroom/tracking/opentrack/store"
)

// EventsResponse is the body of GET /v1/events. Next is the cursor to pass as
// ?after= on the next call; it equals the request's cursor when no events
// were returned.
type EventsResponse struct {
	Events []store.Event `json:"events"`
	Next   string        `json:"next"`
}

const (
	defaultLimit = 100
	maxLimit     = 1000
)

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		s.unauthorized.Add(1)
		s.log.Warn("events API: missing or wrong key", "source", store.CoarseSource(s.clientIP(r), store.IPTruncate))
		w.Header().Set("WWW-Authenticate", `Bearer realm="mailroom-tracker"`)
		apiError(w, http.StatusUnauthorized, "missing or wrong API key")
		return
	}
	q := r.URL.Query()
	after := int64(0)
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			apiError(w, http.StatusBadRequest, "after must be a cursor returned as next")
			return
		}
		after = n
	}
	limit := defaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			apiError(w, http.StatusBadRequest, "limit must be a positive integer")
			return
		}
		limit = min(n, maxLimit)
	}
	evs, err := s.cfg.Store.Events(r.Context(), after, limit)
	if err != nil {
		s.log.Error("events API: store", "err", err)
		apiError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	resp := EventsResponse{Events: evs, Next: strconv.FormatInt(after, 10)}
	if resp.Events == nil {
		resp.Events = []store.Event{}
	}
	if len(evs) > 0 {
		resp.Next = strconv.FormatInt(evs[len(evs)-1].ID, 10)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(resp)
}

// authorized compares the bearer key with every configured key in constant
// time. Hashing first makes the comparison independent of the key lengths;
// checking all keys without stopping early hides which one matched.
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(key)))
	match := 0
	for _, want := range s.apiKeys {
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return match == 1
}

func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
