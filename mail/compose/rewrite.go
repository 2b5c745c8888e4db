package compose

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// RewriteHTML passes the decoded body of every text/html part of msg (a
// copy as Build wrote it) through fn and writes it back in the part's own
// transfer encoding. Every other byte stays as it was: the header, the
// other parts, the boundaries. A resend uses it to move a copy's pixel and
// tracked links to the resend's copy id.
func RewriteHTML(msg []byte, fn func([]byte) ([]byte, error)) ([]byte, error) {
	br := bufio.NewReader(bytes.NewReader(msg))
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(br)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := textproto.WriteHeader(&out, h); err != nil {
		return nil, err
	}
	if err := rewriteEntity(&out, h, body, fn, 0); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// maxMIMEDepth bounds the recursion; Build nests three deep.
const maxMIMEDepth = 10

func rewriteEntity(w io.Writer, h textproto.Header, body []byte, fn func([]byte) ([]byte, error), depth int) error {
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mediaType = "text/plain" // RFC 2045 section 5.2's default: nothing to rewrite
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		if depth >= maxMIMEDepth {
			return errors.New("MIME parts nested too deep")
		}
		mr := textproto.NewMultipartReader(bytes.NewReader(body), params["boundary"])
		mw := textproto.NewMultipartWriter(w)
		if err := mw.SetBoundary(params["boundary"]); err != nil {
			return err
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			raw, err := io.ReadAll(p)
			if err != nil {
				return err
			}
			pw, err := mw.CreatePart(p.Header)
			if err != nil {
				return err
			}
			if err := rewriteEntity(pw, p.Header, raw, fn, depth+1); err != nil {
				return err
			}
		}
		return mw.Close()
	case mediaType == "text/html" && !isAttachment(h):
		return rewriteLeaf(w, strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))), body, fn)
	}
	_, err = w.Write(body)
	return err
}

func rewriteLeaf(w io.Writer, cte string, body []byte, fn func([]byte) ([]byte, error)) error {
	enc, err := transferEncoder(w, cte)
	if err != nil {
		return fmt.Errorf("text/html part: %w", err)
	}
	decoded := body
	switch cte {
	case "quoted-printable":
		decoded, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
	case "base64":
		decoded, err = io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(body)))
	}
	if err != nil {
		return fmt.Errorf("text/html part: %w", err)
	}
	html, err := fn(decoded)
	if err != nil {
		return err
	}
	if _, err := enc.Write(html); err != nil {
		return err
	}
	return enc.Close()
}

// isAttachment: an attached .html file is the user's, never rewritten.
func isAttachment(h textproto.Header) bool {
	d, _, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	return err == nil && d == "attachment"
}
