package report

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"regexp"
	"strings"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // non-UTF-8 bounce texts (ISO-2022-JP, windows-125x, ...)
	"github.com/emersion/go-message/textproto"
)

// Limits that keep a hostile message from costing more than a normal one.
const (
	maxDepth    = 8   // nested multiparts / messages
	maxParts    = 200 // leaf parts looked at
	maxPartText = 1 << 20
)

// message is the MIME structure of a report, reduced to what the report
// parsers need.
type message struct {
	header      textproto.Header
	contentType string // lower-case media type of the top level
	reportType  string // report-type parameter of multipart/report

	// texts are the human-readable parts of the report itself (not of the
	// returned message), decoded to UTF-8, in order.
	texts []string
	// dsn holds message/delivery-status and message/global-delivery-status
	// bodies; mdn holds message/(global-)disposition-notification bodies.
	dsn [][]byte
	mdn [][]byte
	// returned holds the headers of returned messages: text/rfc822-headers,
	// message/rfc822, message/global, message/global-headers.
	returned []textproto.Header
	// attached holds the raw bytes of attached messages (a forwarded
	// report may be one of them).
	attached [][]byte

	parts int
}

// readMessage splits raw bytes into header and body and walks the MIME
// tree. It never fails: what cannot be parsed as MIME is kept as text.
func readMessage(data []byte) *message {
	h, body := readHeaderLenient(data)
	m := &message{header: h}
	m.contentType, _ = contentType(h)
	_, params := contentType(h)
	m.reportType = strings.ToLower(params["report-type"])
	m.walk(h, body, 0, false)
	return m
}

var boundaryRe = regexp.MustCompile(`(?i)boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))`)

// contentType returns the lower-case media type and its parameters,
// tolerating the malformed parameters that some mailers write.
func contentType(h textproto.Header) (string, map[string]string) {
	v := h.Get("Content-Type")
	if v == "" {
		return "text/plain", map[string]string{}
	}
	t, params, err := mime.ParseMediaType(v)
	if err == nil {
		return strings.ToLower(t), params
	}
	params = map[string]string{}
	t = strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]))
	if m := boundaryRe.FindStringSubmatch(v); m != nil {
		params["boundary"] = m[1] + m[2]
	}
	for _, kv := range strings.Split(v, ";")[1:] {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, seen := params[k]; !seen {
			params[k] = strings.Trim(strings.TrimSpace(val), `"`)
		}
	}
	if t == "" || !strings.Contains(t, "/") {
		t = "text/plain"
	}
	return t, params
}

// walk visits one entity. inReturned is set inside a returned message,
// whose texts are not the report's own words.
func (m *message) walk(h textproto.Header, body []byte, depth int, inReturned bool) {
	if depth > maxDepth || m.parts >= maxParts {
		return
	}
	m.parts++
	ct, params := contentType(h)
	switch {
	case strings.HasPrefix(ct, "multipart/"):
		if !m.walkMultipart(body, params["boundary"], depth, inReturned) && !inReturned {
			// Not really multipart (no boundary found): keep it as text.
			m.texts = append(m.texts, decodeText(h, body))
		}
	case ct == "message/delivery-status" || ct == "message/global-delivery-status":
		if !inReturned {
			m.dsn = append(m.dsn, decodeBody(h, body))
		}
	case ct == "message/disposition-notification" || ct == "message/global-disposition-notification":
		if !inReturned {
			m.mdn = append(m.mdn, decodeBody(h, body))
		}
	case ct == "text/rfc822-headers" || ct == "message/global-headers" || ct == "text/rfc822-header":
		rh, _ := readHeaderLenient(decodeBody(h, body))
		m.returned = append(m.returned, rh)
	case ct == "message/rfc822" || ct == "message/global" || ct == "message/partial":
		inner := decodeBody(h, body)
		if !inReturned && len(m.attached) < 4 {
			m.attached = append(m.attached, inner)
		}
		rh, rest := readHeaderLenient(inner)
		m.returned = append(m.returned, rh)
		// A bounce forwarded as an attachment carries its report inside;
		// only walk it when nothing of our own was found yet, and only as
		// a returned message otherwise.
		m.walk(rh, rest, depth+1, true)
	case strings.HasPrefix(ct, "text/"):
		if !inReturned {
			t := decodeText(h, body)
			if ct == "text/html" {
				t = htmlToText(t)
			}
			m.texts = append(m.texts, t)
		}
	}
}

// walkMultipart walks the parts of a multipart body; it reports whether
// any part was found.
func (m *message) walkMultipart(body []byte, boundary string, depth int, inReturned bool) bool {
	if boundary == "" {
		return false
	}
	mr := textproto.NewMultipartReader(bytes.NewReader(body), boundary)
	found := false
	for m.parts < maxParts {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		found = true
		pb, err := io.ReadAll(io.LimitReader(p, MaxSize))
		m.walk(p.Header, pb, depth+1, inReturned)
		if err != nil {
			break
		}
	}
	if !found {
		// Broken boundaries (wrong case, missing closing line) are common
		// in old bounces: fall back to splitting on the boundary text.
		found = m.walkSplit(body, boundary, depth, inReturned)
	}
	return found
}

// walkSplit is the forgiving fallback for multipart bodies that the
// strict reader rejects.
func (m *message) walkSplit(body []byte, boundary string, depth int, inReturned bool) bool {
	sep := []byte("--" + boundary)
	chunks := bytes.Split(body, sep)
	if len(chunks) < 2 {
		return false
	}
	for _, c := range chunks[1:] {
		if bytes.HasPrefix(c, []byte("--")) {
			break
		}
		c = bytes.TrimLeft(c, " \t")
		c = bytes.TrimPrefix(bytes.TrimPrefix(c, []byte("\r")), []byte("\n"))
		h, pb := readHeaderLenient(c)
		m.walk(h, pb, depth+1, inReturned)
	}
	return true
}

// decodeBody undoes the Content-Transfer-Encoding.
func decodeBody(h textproto.Header, body []byte) []byte {
	hh := textproto.Header{}
	if v := h.Get("Content-Transfer-Encoding"); v != "" {
		hh.Set("Content-Transfer-Encoding", v)
	}
	e, err := gomessage.New(gomessage.Header{Header: hh}, bytes.NewReader(body))
	if e == nil || (err != nil && !gomessage.IsUnknownEncoding(err)) {
		return body
	}
	out, rerr := io.ReadAll(io.LimitReader(e.Body, maxPartText))
	if rerr != nil && len(out) == 0 {
		return body
	}
	return out
}

// decodeText undoes the transfer encoding and converts the charset to
// UTF-8 (unknown charsets are passed through as they are).
func decodeText(h textproto.Header, body []byte) string {
	e, err := gomessage.New(gomessage.Header{Header: h}, bytes.NewReader(body))
	if e == nil {
		return string(body)
	}
	_ = err // unknown charset or encoding: e.Body is still readable
	out, rerr := io.ReadAll(io.LimitReader(e.Body, maxPartText))
	if rerr != nil && len(out) == 0 {
		return string(body)
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// readHeaderLenient parses a header block and returns it with the rest of
// the data. It accepts an mbox "From " line, bare LF, and junk lines that
// a strict parser rejects.
func readHeaderLenient(data []byte) (textproto.Header, []byte) {
	data = skipMboxLine(data)
	// The rest is a slice of data, not a copy, and the buffer is no larger
	// than data: a report has several header blocks, and these two
	// allocations were a third of what parsing one allocated.
	r := bytes.NewReader(data)
	br := bufio.NewReaderSize(r, min(len(data), 4096))
	if h, err := textproto.ReadHeader(br); err == nil {
		return h, data[len(data)-r.Len()-br.Buffered():]
	}
	return readHeaderManual(data)
}

func skipMboxLine(data []byte) []byte {
	if bytes.HasPrefix(data, []byte("From ")) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return data[i+1:]
		}
	}
	return data
}

// readHeaderManual is the fallback header parser: "Key: value" lines with
// folded continuations up to the first empty line; other lines are dropped.
func readHeaderManual(data []byte) (textproto.Header, []byte) {
	var h textproto.Header
	var key, val string
	flush := func() {
		if key != "" {
			h.Add(key, strings.TrimSpace(val))
		}
		key, val = "", ""
	}
	rest := data
	for len(rest) > 0 {
		line := rest
		next := []byte(nil)
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, next = rest[:i], rest[i+1:]
		}
		l := strings.TrimRight(string(line), "\r")
		if strings.TrimSpace(l) == "" {
			rest = next
			break
		}
		rest = next
		if l[0] == ' ' || l[0] == '\t' {
			if key != "" {
				val += " " + strings.TrimSpace(l)
			}
			continue
		}
		flush()
		k, v, ok := strings.Cut(l, ":")
		if !ok || !validFieldName(k) {
			continue
		}
		key, val = k, v
	}
	flush()
	// Add prepends; restore document order.
	return reverseHeader(h), rest
}

func reverseHeader(h textproto.Header) textproto.Header {
	var kv [][2]string
	fs := h.Fields()
	for fs.Next() {
		kv = append(kv, [2]string{fs.Key(), fs.Value()})
	}
	var out textproto.Header
	for _, p := range kv {
		out.Add(p[0], p[1])
	}
	return out
}

func validFieldName(k string) bool {
	if k == "" || len(k) > 100 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

var (
	htmlTagRe     = regexp.MustCompile(`(?s)<[^>]*>`)
	htmlBreakRe   = regexp.MustCompile(`(?i)<\s*(br|/p|p|/div|div|tr|/tr|li|/h\d)\b[^>]*>`)
	htmlDropRe    = regexp.MustCompile(`(?is)<(style|script|head)\b.*?</(style|script|head)\s*>`)
	htmlEntityMap = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#39;", "'", "&nbsp;", " ", "&#160;", " ")
)

// htmlToText turns an HTML bounce into plain lines, enough for the text
// heuristics; it is never displayed as HTML.
func htmlToText(s string) string {
	s = htmlDropRe.ReplaceAllString(s, " ")
	s = htmlBreakRe.ReplaceAllString(s, "\n")
	s = htmlTagRe.ReplaceAllString(s, "")
	return htmlEntityMap.Replace(s)
}
