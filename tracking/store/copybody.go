package store

import "bytes"

// A personalized send stores one copy per recipient, and the copies
// differ only where the recipient's tracking header and pixel are: a
// 10 MB attachment sent with tracking to 50 people would otherwise be
// written 50 times. A copy that shares enough with the message's first
// copy is stored as the bytes in between (migration 0003_copy_base).

// MinShared is the least number of bytes a copy must share with its base
// to be stored as a shared copy; below it the whole body is kept, which
// costs no join when it is read.
const MinShared = 1024

// CopyBaseJoin joins a copy "c" to its base "b"; CopyBodyColumns then
// selects the three parts that JoinBody puts together.
const (
	CopyBaseJoin    = ` LEFT JOIN copies b ON b.id = c.base`
	CopyBodyColumns = `substr(b.body, 1, c.base_prefix), c.body, CASE WHEN c.base_suffix > 0 THEN substr(b.body, -c.base_suffix) END`
)

// Shared returns how many leading and trailing bytes body has in common
// with base, never overlapping in either (prefix+suffix is at most the
// shorter length), so that base[:prefix] + body[prefix:len(body)-suffix]
// + base[len(base)-suffix:] is body again.
func Shared(base, body []byte) (prefix, suffix int) {
	// Whole blocks first (bytes.Equal compares them many bytes at a
	// time), then byte by byte: a bulk enqueue compares every copy with
	// the first, and the byte loop alone was 15% of its CPU.
	const block = 64
	n := min(len(base), len(body))
	for prefix+block <= n && bytes.Equal(base[prefix:prefix+block], body[prefix:prefix+block]) {
		prefix += block
	}
	for prefix < n && base[prefix] == body[prefix] {
		prefix++
	}
	m := n - prefix
	for suffix+block <= m && bytes.Equal(base[len(base)-suffix-block:len(base)-suffix], body[len(body)-suffix-block:len(body)-suffix]) {
		suffix += block
	}
	for suffix < m && base[len(base)-1-suffix] == body[len(body)-1-suffix] {
		suffix++
	}
	return prefix, suffix
}

// JoinBody puts a copy's body together from the parts CopyBodyColumns
// selects (prefix and suffix are empty for a copy stored whole).
func JoinBody(prefix, middle, suffix []byte) []byte {
	if len(prefix) == 0 && len(suffix) == 0 {
		return middle
	}
	out := make([]byte, 0, len(prefix)+len(middle)+len(suffix))
	out = append(out, prefix...)
	out = append(out, middle...)
	return append(out, suffix...)
}
