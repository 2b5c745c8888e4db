package opentrack

import (
	"net/url"
	"regexp"

	"mailroom/tracking/opentrack/token"
)

// trackedURL matches the URLs PixelURL and ClickURL write, under any base:
// a resend may come after the tracker moved.
var trackedURL = regexp.MustCompile(`https?://[^\s"'<>]+?/([oc])/([A-Za-z0-9_-]+)(?:\.gif|\?u=([^\s"'<>&]+))`)

// Reissue rewrites the HTML of a copy for a new copy id: every pixel and
// tracked link of copy old that the keyring verifies becomes the same URL
// for copy id, under the current base, so that opens and clicks of a
// resent copy count for the resend and not for the copy it came from.
// URLs of other copies, or that no key in the ring verifies (a retired
// key), are left as they are. It returns the new HTML and how many pixels
// it reissued.
func (l Links) Reissue(html []byte, old, id token.CopyID) ([]byte, int, error) {
	if _, err := l.base(); err != nil {
		return nil, 0, err
	}
	pixels := 0
	var ferr error
	out := trackedURL.ReplaceAllFunc(html, func(m []byte) []byte {
		sub := trackedURL.FindSubmatch(m)
		kind, tok := string(sub[1]), string(sub[2])
		switch {
		case kind == "o" && sub[3] == nil: // the pattern's ".gif" ending
			c, err := l.Keyring.VerifyOpen(tok)
			if err != nil || c.CopyID != old {
				return m
			}
			u, err := l.PixelURL(id)
			if err != nil {
				ferr = err
				return m
			}
			pixels++
			return []byte(u)
		case kind == "c" && sub[3] != nil:
			dest, err := url.QueryUnescape(string(sub[3]))
			if err != nil {
				return m
			}
			c, err := l.Keyring.VerifyClick(tok, dest)
			if err != nil || c.CopyID != old {
				return m
			}
			u, err := l.ClickURL(id, dest)
			if err != nil {
				ferr = err
				return m
			}
			return []byte(u)
		}
		return m
	})
	if ferr != nil {
		return nil, 0, ferr
	}
	return out, pixels, nil
}
