package opentrack

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"mailroom/tracking/opentrack/htmlrw"
	"mailroom/tracking/opentrack/token"
)

// Links makes tracking URLs for one tracker. BaseURL is the tracker's public
// address ("https://t.example.com", or with a path prefix); it is where
// recipients' mail clients will connect.
type Links struct {
	BaseURL string
	Keyring *token.Keyring
}

// CheckBaseURL says whether s can be a tracker's base URL: absolute http(s),
// no query or fragment (a path prefix is fine).
func CheckBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("opentrack: base URL %q must be an http(s) URL without query", s)
	}
	return nil
}

func (l Links) base() (string, error) {
	if err := CheckBaseURL(l.BaseURL); err != nil {
		return "", err
	}
	if l.Keyring == nil {
		return "", errors.New("opentrack: Links needs a Keyring")
	}
	return strings.TrimRight(l.BaseURL, "/"), nil
}

// PixelURL is the open-tracking image URL for a copy.
func (l Links) PixelURL(id token.CopyID) (string, error) {
	b, err := l.base()
	if err != nil {
		return "", err
	}
	tok, err := l.Keyring.MintOpen(id)
	if err != nil {
		return "", err
	}
	return b + "/o/" + tok + ".gif", nil
}

// ClickURL is the tracked form of dest for a copy: the tracker redirects to
// dest and nowhere else.
func (l Links) ClickURL(id token.CopyID, dest string) (string, error) {
	b, err := l.base()
	if err != nil {
		return "", err
	}
	if !htmlrw.IsHTTPURL(dest) {
		return "", fmt.Errorf("opentrack: only http(s) links are tracked")
	}
	tok, err := l.Keyring.MintClick(id, dest)
	if err != nil {
		return "", err
	}
	return b + "/c/" + tok + "?u=" + url.QueryEscape(dest), nil
}

// Apply prepares the HTML of one recipient's copy: links rewritten when
// clicks is set, the pixel appended when opens is set. The copy saved to
// Sent must be the original, never this one.
func (l Links) Apply(html []byte, id token.CopyID, opens, clicks bool) ([]byte, error) {
	if _, err := l.base(); err != nil {
		return nil, err
	}
	out := html
	if clicks {
		var ferr error
		var err error
		out, err = htmlrw.RewriteLinks(out, func(href string) (string, bool) {
			u, err := l.ClickURL(id, href)
			if err != nil {
				ferr = err
				return "", false
			}
			return u, true
		})
		if err != nil {
			return nil, err
		}
		if ferr != nil {
			return nil, ferr
		}
	}
	if opens {
		px, err := l.PixelURL(id)
		if err != nil {
			return nil, err
		}
		if out, err = htmlrw.InjectPixel(out, px); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MintURLs returns n tracking URLs of kind "open" or "click" for fresh random
// copies, for load tests against a running tracker (wrk reads them from a
// file; see cmd/mailroom-tracker mint). Click URLs point at dest.
func MintURLs(l Links, kind string, n int, dest string) ([]string, error) {
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		id, err := token.NewCopyID()
		if err != nil {
			return nil, err
		}
		var u string
		switch kind {
		case "open":
			u, err = l.PixelURL(id)
		case "click":
			u, err = l.ClickURL(id, dest)
		default:
			return nil, fmt.Errorf("opentrack: kind %q is not open or click", kind)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}
