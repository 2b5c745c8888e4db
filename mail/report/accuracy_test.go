package report

import (
	"os"
	"path/filepath"
	"testing"
)

// corpusDir is the shared sisimai bounce corpus, read in place when the
// project is checked out beside shared/ (it is not copied into testdata).
var corpusDir = filepath.Join("..", "..", "..", "shared", "corpus", "bounces-sisimai")

func TestCorpusAccuracy(t *testing.T) {
	if _, err := os.Stat(filepath.Join(corpusDir, "expected.tsv")); err != nil {
		t.Skipf("corpus not present: %v", err)
	}
	acc, err := CorpusAccuracy(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sisimai corpus: %s", acc)
	if testing.Verbose() && os.Getenv("REPORT_MISMATCHES") != "" {
		for _, m := range acc.Mismatches {
			t.Logf("%s #%d [%s/%s] want %s hard=%v got %s %s <%s> %.300q", m.File, m.Index, m.Engine, m.Reason,
				m.WantStatus, m.WantHard, m.GotStatus, m.GotClass, m.GotAddress, m.GotDiagnostic)
		}
	}
	// Floors just below what the parser achieves, so it cannot regress.
	const classFloor, statusFloor, hardFloor = 0.985, 0.98, 0.92
	if acc.ClassRate() < classFloor || acc.StatusRate() < statusFloor || acc.HardRate() < hardFloor {
		t.Errorf("accuracy below floor: %s", acc)
	}
}
