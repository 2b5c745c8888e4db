package compose

import (
	"bytes"
	"strings"
	"testing"
)

// RewriteHTML changes the HTML body and nothing else, in either text
// encoding Build picks; unchanged HTML gives the very same bytes.
func TestRewriteHTML(t *testing.T) {
	for _, tc := range []struct{ name, html, cte string }{
		{"7bit", "<p>See the offer.</p>", "7bit"},
		{"quoted-printable", "<p>See the offer, Zoë, " + strings.Repeat("long line ", 20) + "</p>", "quoted-printable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := baseDraft()
			d.Format, d.HTML = FormatHTML, tc.html
			d.Attachments = []Attachment{
				{Name: "notes.txt", Data: []byte(strings.Repeat("offer ", 3000))},
				{Name: "page.html", Data: []byte("<p>the offer, attached</p>")},
			}
			msg := mustBuild(t, d, CopyOptions{Rand: fixedRand(1)})
			same, err := RewriteHTML(msg, func(b []byte) ([]byte, error) { return b, nil })
			if err != nil || !bytes.Equal(same, msg) {
				t.Fatalf("identity rewrite changed the message (%v):\n%s\n---\n%s", err, msg, same)
			}
			out, err := RewriteHTML(msg, func(b []byte) ([]byte, error) { return bytes.ReplaceAll(b, []byte("offer"), []byte("OFFER")), nil })
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckWire(out); err != nil {
				t.Fatal(err)
			}
			before, after := parse(t, msg), parse(t, out)
			if before.structure != after.structure || len(before.leaves) != len(after.leaves) {
				t.Fatalf("structure %s became %s", before.structure, after.structure)
			}
			for i, l := range after.leaves {
				b := before.leaves[i]
				want := b.body
				if l.mediaType == "text/html" && l.disp != "attachment" {
					want = bytes.ReplaceAll(b.body, []byte("offer"), []byte("OFFER"))
					if l.cte != tc.cte {
						t.Errorf("HTML part in %s, want %s", l.cte, tc.cte)
					}
				}
				if !bytes.Equal(l.body, want) {
					t.Errorf("part %d (%s, %s): %q, want %q", i, l.mediaType, l.disp, l.body, want)
				}
			}
		})
	}
}
