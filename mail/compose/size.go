package compose

import (
	"io"
	"time"
)

// EstimateSize returns the size in octets the built message will have, for
// the "larger than the server accepts (SIZE)" warning. Attachments count at
// their base64 size with line breaks; the text parts and headers are built
// for real, so the figure is exact for a draft that Build accepts, except
// for what a per-copy HTMLTransform adds (a pixel: a few hundred octets).
// An attachment known only by Open and no Size is opened and read through
// to count it. A draft that cannot be built gets a rough figure.
func EstimateSize(d Draft) int64 {
	var att int64
	for _, a := range d.Attachments {
		att += base64Size(attachmentSize(a))
	}
	// Date and Message-ID are usually not fixed yet in the compose window;
	// stand-ins of the usual length keep the figure close.
	if d.Date.IsZero() {
		d.Date = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if d.MessageID == "" {
		d.MessageID = "<" + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + "@example.invalid>"
	}
	b, err := build(d, CopyOptions{Rand: zeroReader{}}, true)
	if err != nil {
		rough := int64(1024 + len(d.Subject)*3 + len(d.Text)*3 + len(d.HTML)*3)
		return rough + att + int64(len(d.Attachments))*300
	}
	return int64(len(b)) + att
}

func attachmentSize(a Attachment) int64 {
	switch {
	case a.Data != nil:
		return int64(len(a.Data))
	case a.Size > 0:
		return a.Size
	case a.Open != nil:
		rc, err := a.Open()
		if err != nil {
			return 0
		}
		defer rc.Close()
		n, _ := io.Copy(io.Discard, rc)
		return n
	}
	return 0
}

// base64Size is the encoded size of n octets: 4 per 3, with CRLF between
// lines of 76 characters (go-message's line length). The last line's CRLF
// belongs to the boundary that follows, which the skeleton build counted.
func base64Size(n int64) int64 {
	if n <= 0 {
		return 0
	}
	enc := (n + 2) / 3 * 4
	lines := (enc + 75) / 76
	return enc + 2*(lines-1)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
