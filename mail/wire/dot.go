package wire

import (
	"bufio"
	"bytes"
)

// DotWriter writes the content of a DATA command (RFC 5321 section
// 4.5.2): a "." that starts a line is doubled, and Close ends the content
// with the line "." (after a CRLF when the content does not end with one).
// Its input is canonical text, as Reader yields it: every line break is
// CRLF, so a line starts after each LF.
//
// net/textproto's DotWriter does the same byte by byte through WriteByte,
// converting bare LFs we never have; at 5 KB a copy that was ~27 µs of
// CPU per message in the bulk benchmark. This one copies whole lines.
type DotWriter struct {
	w         *bufio.Writer
	lineStart bool
}

// NewDotWriter returns a DotWriter over w. Nothing is flushed: the caller
// flushes after Close.
func NewDotWriter(w *bufio.Writer) *DotWriter {
	return &DotWriter{w: w, lineStart: true}
}

func (d *DotWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if d.lineStart && p[0] == '.' {
			if err := d.w.WriteByte('.'); err != nil {
				return n, err
			}
		}
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line = p[:i+1]
		}
		k, err := d.w.Write(line)
		n += k
		if err != nil {
			return n, err
		}
		d.lineStart = line[len(line)-1] == '\n'
		p = p[len(line):]
	}
	return n, nil
}

// Close writes the terminating ".", preceded by CRLF when the content
// did not end with a line break (empty content needs none).
func (d *DotWriter) Close() error {
	if !d.lineStart {
		if _, err := d.w.WriteString("\r\n"); err != nil {
			return err
		}
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}
