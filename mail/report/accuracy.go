package report

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Accuracy is the agreement of Parse with a labelled bounce corpus laid out
// as DIR/expected.tsv (file, engine, index, status, replycode, reason,
// hardbounce; one row per bounced recipient) and DIR/eml/FILE. Recipients
// are compared by position (index is 1-based).
type Accuracy struct {
	Files      int // distinct files in expected.tsv
	Recipients int // labelled recipients (rows)
	Found      int // rows for which Parse returned a recipient at that index

	ClassAgree  int // status class digit equal
	StatusAgree int // exact status equal ...
	StatusTotal int // ... out of rows whose label is a real code (not X.0.9NN)
	HardAgree   int // hardbounce label == (Class == permanent-address)

	Mismatches []Mismatch // rows that disagree on any measure
}

// Mismatch is one labelled recipient on which Parse disagrees.
type Mismatch struct {
	File, Engine, Reason      string
	Index                     int
	WantStatus, GotStatus     string
	WantHard                  bool
	GotClass                  Class
	GotAddress, GotDiagnostic string
}

// ClassRate, StatusRate and HardRate are the agreement ratios (0..1).
func (a Accuracy) ClassRate() float64  { return ratio(a.ClassAgree, a.Recipients) }
func (a Accuracy) StatusRate() float64 { return ratio(a.StatusAgree, a.StatusTotal) }
func (a Accuracy) HardRate() float64   { return ratio(a.HardAgree, a.Recipients) }

func (a Accuracy) String() string {
	return fmt.Sprintf("files=%d recipients=%d found=%d class=%d/%d (%.1f%%) status=%d/%d (%.1f%%) hardbounce=%d/%d (%.1f%%)",
		a.Files, a.Recipients, a.Found,
		a.ClassAgree, a.Recipients, 100*a.ClassRate(),
		a.StatusAgree, a.StatusTotal, 100*a.StatusRate(),
		a.HardAgree, a.Recipients, 100*a.HardRate())
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// isPseudoStatus reports the corpus's own X.0.9NN codes, which stand for
// "no standard code was present": only their class digit is compared.
func isPseudoStatus(s string) bool {
	return len(s) >= 7 && s[1:5] == ".0.9"
}

// CorpusAccuracy parses every file named in dir/expected.tsv and measures
// the agreement with its labels.
func CorpusAccuracy(dir string) (Accuracy, error) {
	var acc Accuracy
	f, err := os.Open(filepath.Join(dir, "expected.tsv"))
	if err != nil {
		return acc, err
	}
	defer f.Close()
	cache := map[string]*Report{}
	sc := bufio.NewScanner(f)
	first := true
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if first {
			first = false
			if len(cols) > 0 && cols[0] == "file" {
				continue
			}
		}
		if len(cols) < 7 {
			continue
		}
		file, engine, status, reason := cols[0], cols[1], cols[3], cols[5]
		idx, _ := strconv.Atoi(cols[2])
		hard := cols[6] == "true"
		rep, ok := cache[file]
		if !ok {
			acc.Files++
			data, err := os.ReadFile(filepath.Join(dir, "eml", file))
			if err != nil {
				return acc, err
			}
			rep = &Report{Kind: KindNotAReport}
			// A file may be a mailbox holding more than one report.
			for i, msg := range splitMbox(data) {
				r, err := Parse(strings.NewReader(string(msg)))
				if err != nil {
					continue
				}
				if i == 0 {
					rep = r
				} else {
					rep.Recipients = append(rep.Recipients, r.Recipients...)
				}
			}
			cache[file] = rep
		}
		acc.Recipients++
		var got Recipient
		if idx >= 1 && idx <= len(rep.Recipients) {
			got = rep.Recipients[idx-1]
			acc.Found++
		}
		bad := false
		if got.Status != "" && status != "" && got.Status[0] == status[0] {
			acc.ClassAgree++
		} else {
			bad = true
		}
		if !isPseudoStatus(status) {
			acc.StatusTotal++
			if got.Status == status {
				acc.StatusAgree++
			} else {
				bad = true
			}
		}
		if hard == (got.Class == ClassPermanentAddress) {
			acc.HardAgree++
		} else {
			bad = true
		}
		if bad {
			acc.Mismatches = append(acc.Mismatches, Mismatch{
				File: file, Engine: engine, Reason: reason, Index: idx,
				WantStatus: status, GotStatus: got.Status, WantHard: hard, GotClass: got.Class,
				GotAddress: got.Address, GotDiagnostic: got.Diagnostic,
			})
		}
	}
	return acc, sc.Err()
}

// splitMbox splits an mbox file at its "From " separator lines (a line
// starting with "From " after an empty line). A single message comes back
// whole.
func splitMbox(data []byte) [][]byte {
	text := string(data)
	var out [][]byte
	start := 0
	for i := 0; ; {
		j := strings.Index(text[i:], "\n\nFrom ")
		if j < 0 {
			break
		}
		pos := i + j + 2
		line := text[pos:]
		if k := strings.IndexByte(line, '\n'); k >= 0 {
			line = line[:k]
		}
		// "From sender date": a separator has no colon right after From.
		if !strings.HasPrefix(line, "From:") && len(strings.Fields(line)) >= 3 {
			out = append(out, data[start:pos])
			start = pos
		}
		i = pos
	}
	return append(out, data[start:])
}
