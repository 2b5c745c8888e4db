package sqlitestore

// The hit log: an append-only file of events, written and fdatasync'ed
// before Record returns, that the ingester later moves into SQLite.
//
// The log is a series of segment files next to the database, named
// "<db>-hitlog.<first sequence number, 20 digits>". A segment is a run of
// records, each
//
//	length  uint32 LE   length of the payload
//	crc     uint32 LE   CRC-32C (Castagnoli) of the payload
//	payload             seq int64 LE | at_us int64 LE | kind byte |
//	                    copy_id, key_id, link_hash, ua_class, user_agent,
//	                    source: each a uvarint length and the bytes
//
// The sequence number is the event's ID. Records in the log have strictly
// increasing sequence numbers (gaps are possible: a batch whose write
// failed was answered as failed and its numbers are never reused). A
// record that was only partly written when the process died (a torn tail)
// has a length running past the end of the file or a payload that fails
// its checksum: reading stops there and everything before it is kept.

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"mailroom/tracking/opentrack/store"
)

const (
	recHeader = 8 // length + crc
	// maxPayload bounds a record when reading: far above any valid event
	// (a User-Agent is at most store.MaxUserAgent bytes), so a length
	// field that is garbage is caught before it is believed.
	maxPayload = 4 << 10
	segSuffix  = "-hitlog."
	seqDigits  = 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	kindOpenByte  = 1
	kindClickByte = 2
)

// appendRecord appends e (with e.ID as its sequence number) to b as one
// log record.
func appendRecord(b []byte, e *store.Event) []byte {
	start := len(b)
	b = append(b, make([]byte, recHeader)...)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.ID))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.At.UnixMicro()))
	k := byte(kindOpenByte)
	if e.Kind == store.KindClick {
		k = kindClickByte
	}
	b = append(b, k)
	for _, s := range [...]string{e.CopyID, e.KeyID, e.LinkHash, e.UAClass, e.UserAgent, e.Source} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	payload := b[start+recHeader:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(payload, castagnoli))
	return b
}

var errTorn = errors.New("torn or corrupt record")

// decodeRecord reads the record at the start of b. It returns the event,
// the record's size, or errTorn when b does not begin with a whole, intact
// record (a zero length, as in space never written, counts as the end).
func decodeRecord(b []byte) (store.Event, int, error) {
	var e store.Event
	if len(b) < recHeader {
		return e, 0, errTorn
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n == 0 || n > maxPayload || len(b)-recHeader < n {
		return e, 0, errTorn
	}
	p := b[recHeader : recHeader+n]
	if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return e, 0, errTorn
	}
	if len(p) < 17 {
		return e, 0, errTorn
	}
	e.ID = int64(binary.LittleEndian.Uint64(p))
	us := int64(binary.LittleEndian.Uint64(p[8:]))
	switch p[16] {
	case kindOpenByte:
		e.Kind = store.KindOpen
	case kindClickByte:
		e.Kind = store.KindClick
	default:
		return e, 0, errTorn
	}
	p = p[17:]
	for _, dst := range [...]*string{&e.CopyID, &e.KeyID, &e.LinkHash, &e.UAClass, &e.UserAgent, &e.Source} {
		l, k := binary.Uvarint(p)
		if k <= 0 || uint64(len(p)-k) < l {
			return e, 0, errTorn
		}
		*dst = string(p[k : k+int(l)])
		p = p[k+int(l):]
	}
	if len(p) != 0 || e.ID <= 0 {
		return e, 0, errTorn
	}
	e.At = unixMicroUTC(us)
	return e, recHeader + n, nil
}

// segment is one log file. Files are numbered in the order they are
// made, and made ahead of use: filled with zeros to segmentMax and synced,
// so that appending a record changes no file size and fdatasync writes only
// the data. The end of the records is where the zeros begin.
type segment struct {
	num   int64  // from the file name
	first int64  // ID of its first record; 0 until the writer uses it
	path  string // file
}

func segmentPath(prefix string, num int64) string {
	return fmt.Sprintf("%s%0*d", prefix, seqDigits, num)
}

// listSegments returns the log segments for prefix ("<db>-hitlog."), in
// file number order.
func listSegments(prefix string) ([]segment, error) {
	dir, base := filepath.Split(prefix)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []segment
	for _, de := range ents {
		num, ok := strings.CutPrefix(de.Name(), base)
		if !ok || len(num) != seqDigits || !de.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			continue
		}
		segs = append(segs, segment{num: n, path: filepath.Join(dir, de.Name())})
	}
	slices.SortFunc(segs, func(a, b segment) int { return cmp.Compare(a.num, b.num) })
	return segs, nil
}

// readSegment returns the intact records at the start of a segment, in
// order, and whether they end in a torn record: anything but zeros after
// the last intact record.
func readSegment(path string) (evs []store.Event, torn bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	off := 0
	last := int64(0)
	for off < len(b) {
		e, n, err := decodeRecord(b[off:])
		if err != nil || e.ID <= last {
			break
		}
		evs = append(evs, e)
		last = e.ID
		off += n
	}
	torn = slices.ContainsFunc(b[off:], func(c byte) bool { return c != 0 })
	return evs, torn, nil
}

// syncDir makes a created or renamed directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
