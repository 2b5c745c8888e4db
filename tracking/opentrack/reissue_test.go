package opentrack_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"mailroom/tracking/opentrack"
	"mailroom/tracking/opentrack/token"
)

// A resent copy's pixel and tracked links name the resend's copy id, under
// the tracker's current address; another copy's URLs stay as they were.
func TestReissueMovesTrackingToTheNewCopy(t *testing.T) {
	kr := ring(t)
	oldLinks := opentrack.Links{BaseURL: "https://old.example.com/t", Keyring: kr}
	newLinks := opentrack.Links{BaseURL: "https://new.example.com", Keyring: kr}
	oldID, _ := token.NewCopyID()
	otherID, _ := token.NewCopyID()
	newID, _ := token.NewCopyID()
	dest := "https://shop.example/a?b=1&c=d"
	html, err := oldLinks.Apply([]byte(`<p><a href="`+strings.ReplaceAll(dest, "&", "&amp;")+`">shop</a></p>`), oldID, true, true)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := oldLinks.PixelURL(otherID)
	html = append(html, []byte(`<img src="`+foreign+`">`)...)

	out, pixels, err := newLinks.Reissue(html, oldID, newID)
	if err != nil {
		t.Fatal(err)
	}
	if pixels != 1 {
		t.Errorf("%d pixels reissued, want 1", pixels)
	}
	if !strings.Contains(string(out), foreign) {
		t.Error("another copy's pixel was rewritten")
	}
	opens := regexp.MustCompile(`https://new\.example\.com/o/([A-Za-z0-9_-]+)\.gif`).FindAllStringSubmatch(string(out), -1)
	if len(opens) != 1 {
		t.Fatalf("pixels under the new base: %v in\n%s", opens, out)
	}
	if c, err := kr.VerifyOpen(opens[0][1]); err != nil || c.CopyID != newID {
		t.Errorf("new pixel: %+v, %v", c, err)
	}
	clicks := regexp.MustCompile(`https://new\.example\.com/c/([A-Za-z0-9_-]+)\?u=([^"&]+)`).FindAllStringSubmatch(string(out), -1)
	if len(clicks) != 1 {
		t.Fatalf("tracked links under the new base: %v in\n%s", clicks, out)
	}
	got, _ := url.QueryUnescape(clicks[0][2])
	if c, err := kr.VerifyClick(clicks[0][1], got); err != nil || c.CopyID != newID || got != dest {
		t.Errorf("new link to %q: %+v, %v", got, c, err)
	}
	if strings.Contains(string(out), "old.example.com/t/c/") || strings.Count(string(out), "old.example.com") != 1 {
		t.Errorf("the old copy's URLs are still there:\n%s", out)
	}

	// Signed with a key no longer in the ring: left alone, not counted.
	retired, _ := token.NewKeyring([]string{"k0"}, [][]byte{[]byte(strings.Repeat("r", 32))})
	stale, _ := (opentrack.Links{BaseURL: "https://old.example.com", Keyring: retired}).PixelURL(oldID)
	out, pixels, err = newLinks.Reissue([]byte(`<img src="`+stale+`">`), oldID, newID)
	if err != nil || pixels != 0 || !strings.Contains(string(out), stale) {
		t.Errorf("a pixel of a retired key: %d reissued, %v, %s", pixels, err, out)
	}
}
