package opentrack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mailroom/tracking/opentrack/server"
)

// Client reads events from a tracker's /v1/events.
type Client struct {
	BaseURL string       // the tracker's address, e.g. https://t.example.com
	APIKey  string       // sent as a bearer token
	HTTP    *http.Client // default: a client with a 30 s timeout
	Limit   int          // events per call; 0 = the server's default
}

// ErrUnauthorized means the tracker refused the API key.
var ErrUnauthorized = errors.New("opentrack: tracker refused the API key")

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

// Events returns the events after the cursor (empty for the beginning) and
// the cursor to pass next time. An empty batch means the app is up to date.
func (c *Client) Events(ctx context.Context, after string) ([]Event, string, error) {
	base := strings.TrimRight(c.BaseURL, "/")
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if c.Limit > 0 {
		q.Set("limit", fmt.Sprint(c.Limit))
	}
	u := base + "/v1/events"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, after, fmt.Errorf("opentrack: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.APIKey)
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, after, fmt.Errorf("opentrack: fetch events: %w", err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, 64<<20)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, after, ErrUnauthorized
	case resp.StatusCode != http.StatusOK:
		var e struct {
			Error string `json:"error"`
		}
		json.NewDecoder(io.LimitReader(body, 4096)).Decode(&e)
		return nil, after, fmt.Errorf("opentrack: tracker answered %s %s", resp.Status, e.Error)
	}
	var r server.EventsResponse
	if err := json.NewDecoder(body).Decode(&r); err != nil {
		return nil, after, fmt.Errorf("opentrack: decode events: %w", err)
	}
	if r.Next == "" {
		r.Next = after
	}
	return r.Events, r.Next, nil
}
