package compose

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"path"
	"strings"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"mailroom/mail"
)

// node is one MIME entity: a leaf with a body, or a multipart with children.
type node struct {
	fields   []HeaderField           // in wire order
	cte      string                  // leaf: 7bit, quoted-printable or base64
	body     func(w io.Writer) error // leaf: writes the unencoded body
	boundary string                  // multipart
	children []*node                 // multipart
}

type builder struct {
	rand io.Reader
	skip bool // leave attachment bodies out (EstimateSize)
}

func build(d Draft, opt CopyOptions, skipAttachmentBodies bool) ([]byte, error) {
	if err := validateForBuild(d, opt); err != nil {
		return nil, err
	}
	b := &builder{rand: opt.Rand, skip: skipAttachmentBodies}
	if b.rand == nil {
		b.rand = rand.Reader
	}

	text, html, err := bodies(d)
	if err != nil {
		return nil, err
	}
	if html != nil && opt.HTMLTransform != nil {
		if html, err = opt.HTMLTransform(html); err != nil {
			return nil, fmt.Errorf("compose: HTML transform: %w", err)
		}
		html = canonicalText(html)
	}

	root, err := b.tree(d, text, html)
	if err != nil {
		return nil, err
	}
	top, err := topFields(d, opt)
	if err != nil {
		return nil, err
	}
	root.fields = append(top, root.fields...)

	var buf bytes.Buffer
	if err := textproto.WriteHeader(&buf, toHeader(root.fields)); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	if err := writeBody(&buf, root); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	if err := CheckWire(out); err != nil {
		// Unreachable if the checks above are right; never send it.
		return nil, fmt.Errorf("compose: internal error, output is not wire-safe: %w", err)
	}
	return out, nil
}

// bodies returns the canonical text/plain body and, for Markdown and HTML
// drafts, the canonical text/html body (nil for plain text).
func bodies(d Draft) (text, html []byte, err error) {
	switch d.Format {
	case FormatMarkdown:
		h, err := renderMarkdown(d.Text)
		if err != nil {
			return nil, nil, fmt.Errorf("compose: markdown: %w", err)
		}
		return canonicalText([]byte(d.Text)), canonicalText(h), nil
	case FormatHTML:
		t := d.Text
		if strings.TrimSpace(t) == "" {
			t = htmlToText(d.HTML)
		}
		return canonicalText([]byte(t)), canonicalText([]byte(d.HTML)), nil
	}
	return canonicalText([]byte(d.Text)), nil, nil
}

// tree lays out the MIME structure:
//
//	text/plain                               plain, no attachments
//	multipart/alternative(plain, html)       Markdown or HTML
//	multipart/alternative(plain,
//	    multipart/related(html, images...))  HTML with inline images
//	multipart/mixed(any of the above, files...)
func (b *builder) tree(d Draft, text, html []byte) (*node, error) {
	var inline, files []Attachment
	for _, a := range d.Attachments {
		if a.Inline && html != nil {
			inline = append(inline, a)
		} else {
			a.Inline = false
			files = append(files, a)
		}
	}

	body := textNode("text/plain", text)
	if html != nil {
		htmlPart := textNode("text/html", html)
		if len(inline) > 0 {
			rel, err := b.multipart("multipart/related", map[string]string{"type": "text/html"}, htmlPart)
			if err != nil {
				return nil, err
			}
			for _, a := range inline {
				rel.children = append(rel.children, b.attachmentNode(a))
			}
			htmlPart = rel
		}
		alt, err := b.multipart("multipart/alternative", nil, body, htmlPart)
		if err != nil {
			return nil, err
		}
		body = alt
	}
	if len(files) == 0 {
		return body, nil
	}
	mixed, err := b.multipart("multipart/mixed", nil, body)
	if err != nil {
		return nil, err
	}
	for _, a := range files {
		mixed.children = append(mixed.children, b.attachmentNode(a))
	}
	return mixed, nil
}

// multipart makes a multipart node with an explicit boundary. go-message
// would pick one itself from crypto/rand; choosing it here lets tests fix
// the randomness (golden files) and keeps the "=_" prefix, which can occur
// in neither base64 nor quoted-printable output.
func (b *builder) multipart(mediaType string, params map[string]string, children ...*node) (*node, error) {
	var r [16]byte
	if _, err := io.ReadFull(b.rand, r[:]); err != nil {
		return nil, fmt.Errorf("compose: boundary: %w", err)
	}
	boundary := "=_mr_" + hex.EncodeToString(r[:])
	p := map[string]string{"boundary": boundary}
	for k, v := range params {
		p[k] = v
	}
	return &node{
		fields:   []HeaderField{{"Content-Type", mime.FormatMediaType(mediaType, p)}},
		boundary: boundary,
		children: children,
	}, nil
}

func textNode(mediaType string, canon []byte) *node {
	cte := textEncoding(canon)
	return &node{
		fields: []HeaderField{
			{"Content-Type", mediaType + "; charset=utf-8"},
			{"Content-Transfer-Encoding", cte},
		},
		cte: cte,
		body: func(w io.Writer) error {
			_, err := w.Write(canon)
			return err
		},
	}
}

func (b *builder) attachmentNode(a Attachment) *node {
	ct := a.ContentType
	if ct == "" {
		ct = guessType(a.Name)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil { // checked by Validate; stay safe anyway
		mt, params = "application/octet-stream", map[string]string{}
	}
	// The legacy "name" parameter is what old Outlook versions read: RFC
	// 2047 words in a quoted string, the de-facto form. The standard RFC
	// 2231 filename goes in the Content-Disposition.
	delete(params, "name")
	if isPlainParam(a.Name) {
		params["name"] = a.Name
	}
	ctype := mime.FormatMediaType(mt, params)
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	if !isPlainParam(a.Name) {
		ctype += `; name="` + encodeWords(a.Name) + `"`
	}

	disp := "attachment"
	if a.Inline {
		disp = "inline"
	}
	if isPlainParam(a.Name) {
		disp = mime.FormatMediaType(disp, map[string]string{"filename": a.Name})
	} else {
		disp += "; " + rfc2231Value("filename", a.Name)
	}

	fields := []HeaderField{
		{"Content-Type", ctype},
		{"Content-Disposition", disp},
	}
	if a.Inline {
		fields = append(fields, HeaderField{"Content-ID", "<" + trimCID(a.ContentID) + ">"})
	}
	fields = append(fields, HeaderField{"Content-Transfer-Encoding", "base64"})

	return &node{fields: fields, cte: "base64", body: func(w io.Writer) error {
		if b.skip {
			return nil
		}
		if a.Data != nil {
			_, err := w.Write(a.Data)
			return err
		}
		rc, err := a.Open()
		if err != nil {
			return fmt.Errorf("compose: attachment %q: %w", a.Name, err)
		}
		defer rc.Close()
		if _, err := io.Copy(w, rc); err != nil {
			return fmt.Errorf("compose: attachment %q: %w", a.Name, err)
		}
		return nil
	}}
}

// guessType names a content type from the file extension. A short table
// comes first so the common cases do not depend on the machine's
// mime.types; anything else is application/octet-stream. Text types get
// no charset: the file's encoding is unknown, and guessing UTF-8 would make
// a Windows-1252 file display wrongly where no charset lets the reader
// sniff it.
func guessType(name string) string {
	ext := strings.ToLower(path.Ext(strings.ReplaceAll(name, `\`, "/")))
	switch ext {
	case ".pdf":
		return "application/pdf"
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".gif":
		return "image/gif"
	case ".webp":
		return "image/webp"
	case ".svg":
		return "image/svg+xml"
	case ".txt":
		return "text/plain"
	case ".csv":
		return "text/csv"
	case ".ics":
		return "text/calendar"
	case ".zip":
		return "application/zip"
	case ".json":
		return "application/json"
	case ".docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case ".odt":
		return "application/vnd.oasis.opendocument.text"
	}
	if t := mime.TypeByExtension(ext); t != "" && !strings.HasPrefix(t, "multipart/") && !strings.HasPrefix(t, "message/") {
		return t
	}
	return "application/octet-stream"
}

// topFields returns the message header fields in wire order, up to and
// including MIME-Version. User text is RFC 2047-encoded (encodeText,
// formatAddress); domains are written as A-labels so the header stays ASCII
// unless a local part is not (see NeedsSMTPUTF8).
func topFields(d Draft, opt CopyOptions) ([]HeaderField, error) {
	var h gomail.Header
	h.SetDate(d.Date)
	fields := []HeaderField{
		{"Date", h.Get("Date")},
		{"Message-ID", d.MessageID},
	}
	for _, l := range []struct {
		name  string
		addrs []mail.Address
	}{{"From", []mail.Address{d.From}}, {"To", d.To}, {"Cc", d.Cc}} {
		if len(l.addrs) == 0 {
			continue
		}
		list := make([]string, 0, len(l.addrs))
		for _, a := range l.addrs {
			n, err := headerAddress(a)
			if err != nil {
				return nil, fmt.Errorf("compose: %s: %w", strings.ToLower(l.name), err)
			}
			list = append(list, formatAddress(n.Name, n.Address))
		}
		fields = append(fields, HeaderField{l.name, strings.Join(list, ", ")})
	}
	fields = append(fields, HeaderField{"Subject", encodeText(d.Subject)})
	if d.InReplyTo != "" {
		fields = append(fields, HeaderField{"In-Reply-To", d.InReplyTo})
	}
	if len(d.References) > 0 {
		fields = append(fields, HeaderField{"References", strings.Join(d.References, " ")})
	}
	for _, x := range d.Headers {
		fields = append(fields, HeaderField{x.Name, encodeText(x.Value)})
	}
	for _, x := range opt.ExtraHeaders {
		fields = append(fields, HeaderField{x.Name, encodeText(x.Value)})
	}
	if opt.TrackingID != "" {
		fields = append(fields, HeaderField{TrackingHeader, opt.TrackingID})
	}
	fields = append(fields, HeaderField{"MIME-Version", "1.0"})
	return fields, nil
}

// headerAddress is the address as written in a header: the addr-spec
// re-parsed, its domain in A-label form.
func headerAddress(a mail.Address) (mail.Address, error) {
	n, err := normalizeAddress(a)
	if err != nil {
		return mail.Address{}, err
	}
	if ascii, err := n.ASCIIDomain(); err == nil {
		n.Address = ascii
	}
	return n, nil
}

// toHeader turns fields in wire order into a go-message header. Its fields
// are stored newest-first and written last-added-first, so they are added
// in reverse. go-message folds long values and refuses CR or LF in them.
func toHeader(fields []HeaderField) textproto.Header {
	var h textproto.Header
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i].Name, fields[i].Value)
	}
	return h
}

// writeBody writes what follows n's header: the encoded body of a leaf, or
// the parts of a multipart between its boundaries.
//
// go-message's message.Writer would do the encoding too, but it refuses any
// part whose charset is not UTF-8 or US-ASCII, even a base64 attachment
// (a Windows-1252 CSV file is legitimate); its textproto layer is used
// directly instead, with the standard library's encoders.
func writeBody(w io.Writer, n *node) error {
	if n.body == nil {
		mw := textproto.NewMultipartWriter(w)
		if err := mw.SetBoundary(n.boundary); err != nil {
			return fmt.Errorf("compose: %w", err)
		}
		for _, c := range n.children {
			pw, err := mw.CreatePart(toHeader(c.fields))
			if err != nil {
				return fmt.Errorf("compose: %w", err)
			}
			if err := writeBody(pw, c); err != nil {
				return err
			}
		}
		return mw.Close()
	}
	enc, err := transferEncoder(w, n.cte)
	if err != nil {
		return fmt.Errorf("compose: internal error: %w", err)
	}
	if err := n.body(enc); err != nil {
		return err
	}
	return enc.Close()
}

// transferEncoder writes what it is given to w in the transfer encoding
// cte: quoted-printable, base64 in lines of 76, or as it is (7bit, 8bit,
// binary, none). Close flushes the encoder and leaves w open.
func transferEncoder(w io.Writer, cte string) (io.WriteCloser, error) {
	switch cte {
	case "", "7bit", "8bit", "binary":
		// Identity encodings: the bytes go as they are (Build writes
		// 7bit only for canonical text with short lines).
		return nopWriteCloser{w}, nil
	case "quoted-printable":
		return quotedprintable.NewWriter(w), nil
	case "base64":
		return base64.NewEncoder(base64.StdEncoding, &lineBreaker{w: w}), nil
	}
	return nil, fmt.Errorf("transfer encoding %q", cte)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// lineBreaker cuts base64 output into lines of 76 characters (RFC 2045
// section 6.8). The last line gets no CRLF: the boundary delimiter that
// follows begins with one.
type lineBreaker struct {
	w   io.Writer
	col int
}

func (l *lineBreaker) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if l.col == 76 {
			if _, err := io.WriteString(l.w, "\r\n"); err != nil {
				return n, err
			}
			l.col = 0
		}
		k := min(76-l.col, len(p))
		if _, err := l.w.Write(p[:k]); err != nil {
			return n, err
		}
		l.col += k
		n += k
		p = p[k:]
	}
	return n, nil
}
