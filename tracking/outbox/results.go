package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"sync"
)

// resultLog records, in a file beside the database (mailroom.db-results),
// that the server accepted a copy: the reply of each recipient, before the
// session sends the next message. It takes the place of a SQLite commit
// per copy, which cost ~150 µs of CPU (the recipient's status, its event,
// the attempt's end, their indexes): an applier goroutine folds these
// records into the database in large transactions (~30 µs a copy), and a
// start replays the file before recovery looks at open attempts. The
// durability is that of the commit it replaces under synchronous=NORMAL:
// the kernel holds the write once pwrite returns, so a killed or crashed
// process loses nothing; a power loss can lose the last records (their
// copies then come back as after a crash between "." and the commit:
// "uncertain", or "deferred" when the session's hand-over mark was lost
// too or already overwritten by the next copy's).
//
// Only clean acceptances go here (every recipient of the transaction
// accepted, the whole copy in one transaction, the record small enough
// for a slot): anything else is committed at once as before.
//
// Each session (hand-over slot) below maxResultRings owns a ring of
// ringSlots slots of slotSize bytes. A slot is
//
//	length uint32 LE | crc uint32 LE (CRC-32C of seq and payload) |
//	seq uint64 LE | payload (JSON resultRec)
//
// A torn or stale slot fails its CRC or names an attempt already ended,
// and is ignored. A session overwrites a slot only once the record in it
// is applied, so a ring never holds more than ringSlots unapplied records.
type resultLog struct {
	f *os.File

	mu     sync.Mutex
	cond   *sync.Cond
	rings  [maxResultRings]ringState
	broken error // the applier failed: writers stop
	found  []resultRec
	used   []int64 // offsets of the slots a previous run wrote (for clear)
}

type ringState struct {
	next    uint64 // the sequence number of the next record
	applied uint64 // every record below this is applied
}

const (
	slotSize       = 1024
	slotHeader     = 16
	ringSlots      = 256
	maxResultRings = 8
	resultLogSize  = maxResultRings * ringSlots * slotSize
)

// resultRec is one clean acceptance.
type resultRec struct {
	Attempt int64       `json:"a"`
	Message string      `json:"m"`
	EnvID   string      `json:"e"`
	Server  string      `json:"s,omitempty"`
	DSN     bool        `json:"d,omitempty"`
	At      int64       `json:"t"` // Unix milliseconds of the reply
	Rcpts   []resultRcp `json:"r"`
}

type resultRcp struct {
	ID       int64  `json:"i"`
	Number   int    `json:"n"`
	Command  string `json:"c,omitempty"`
	Code     int    `json:"k"`
	Enhanced string `json:"x,omitempty"`
	Text     string `json:"w,omitempty"`
}

// errNotForLog sends a result the slow way, committed at once: its
// record is larger than a slot, or the session has no ring.
var errNotForLog = errors.New("result record not for the log (larger than a slot, or no ring for the session)")

// openResultLog opens (creating) the file at path and reads the records a
// previous run left in it.
func openResultLog(path string) (*resultLog, error) {
	f, b, err := openSideFile(path, "result log", resultLogSize)
	if err != nil {
		return nil, err
	}
	l := &resultLog{f: f}
	l.cond = sync.NewCond(&l.mu)
	for off := 0; off < len(b); off += slotSize {
		slot := b[off:min(off+slotSize, len(b))]
		if rec, ok := decodeSlot(slot); ok {
			l.found = append(l.found, rec)
		}
		if len(slot) < slotHeader || !bytes.Equal(slot[:slotHeader], make([]byte, slotHeader)) {
			l.used = append(l.used, int64(off))
		}
	}
	return l, nil
}

func encodeSlot(seq uint64, rec *resultRec) ([]byte, error) {
	payload, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	if slotHeader+len(payload) > slotSize {
		return nil, errNotForLog
	}
	b := make([]byte, slotHeader+len(payload))
	binary.LittleEndian.PutUint32(b[0:], uint32(len(payload)))
	copy(b[slotHeader:], payload)
	stamp(b, seq)
	return b, nil
}

// stamp writes the sequence number into an encoded slot, and the
// checksum that covers it.
func stamp(b []byte, seq uint64) {
	binary.LittleEndian.PutUint64(b[8:], seq)
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
}

func decodeSlot(b []byte) (resultRec, bool) {
	var rec resultRec
	if len(b) < slotHeader {
		return rec, false
	}
	n := int(binary.LittleEndian.Uint32(b[0:]))
	if n == 0 || slotHeader+n > len(b) ||
		binary.LittleEndian.Uint32(b[4:]) != crc32.Checksum(b[8:slotHeader+n], castagnoli) {
		return rec, false
	}
	if err := json.Unmarshal(b[slotHeader:slotHeader+n], &rec); err != nil || rec.Attempt <= 0 {
		return rec, false
	}
	return rec, true
}

// clear forgets the previous run's records once they are applied. A file
// not yet at its full size becomes zeroed slots (zeroFill); after that
// only the headers of the slots the previous run wrote are zeroed, which
// makes them invalid: `mailroom run --once` from cron every minute must
// not write 2 MiB each time.
func (l *resultLog) clear() error {
	l.mu.Lock()
	l.found = nil
	used := l.used
	l.used = nil
	l.mu.Unlock()
	if fi, err := l.f.Stat(); err != nil || fi.Size() != resultLogSize {
		return zeroFill(l.f, "result log", resultLogSize)
	}
	zero := make([]byte, slotHeader)
	for _, off := range used {
		if _, err := l.f.WriteAt(zero, off); err != nil {
			return fmt.Errorf("outbox: result log: %w", err)
		}
	}
	return nil
}

// write records rec in the ring of session slot and returns its sequence
// number, once the kernel has the write. It waits while the ring is full
// of records not yet applied (and fails then if the applier has failed).
func (l *resultLog) write(slot int, rec *resultRec) (uint64, error) {
	if slot < 0 || slot >= maxResultRings {
		return 0, errNotForLog
	}
	// Encoded before the lock (the other sessions need it); the number
	// is stamped in once it is known.
	b, err := encodeSlot(0, rec)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	r := &l.rings[slot]
	seq := r.next
	for seq >= r.applied+ringSlots {
		// Once the applier has failed, a full ring never empties: fail
		// rather than wait. A ring with room still takes the record, so
		// that an acceptance the server has given is never lost to a
		// database that stopped taking writes (the next start applies it).
		if l.broken != nil {
			l.mu.Unlock()
			return 0, l.broken
		}
		l.cond.Wait()
	}
	r.next++
	l.mu.Unlock()
	stamp(b, seq)
	off := int64(slot*ringSlots+int(seq%ringSlots)) * slotSize
	if _, err := l.f.WriteAt(b, off); err != nil {
		return 0, fmt.Errorf("outbox: result log: %w", err)
	}
	return seq, nil
}

// markApplied says that the records of session slot below upTo are in the
// database.
func (l *resultLog) markApplied(slot int, upTo uint64) {
	l.mu.Lock()
	if r := &l.rings[slot]; upTo > r.applied {
		r.applied = upTo
	}
	l.cond.Broadcast()
	l.mu.Unlock()
}

// fail stops the writers that would wait for room: records can no longer
// be applied in this run.
func (l *resultLog) fail(err error) {
	l.mu.Lock()
	if l.broken == nil {
		l.broken = err
	}
	l.cond.Broadcast()
	l.mu.Unlock()
}

// reset readies the rings for a new run (sessions start again at slot 0).
func (l *resultLog) reset() {
	l.mu.Lock()
	l.rings = [maxResultRings]ringState{}
	l.broken = nil
	l.mu.Unlock()
}

func (l *resultLog) Close() error { return l.f.Close() }
