// Command corpus measures how well mail/report reads real-world bounces:
// the agreement of report.CorpusAccuracy with the labelled Sisimai corpus
// (status class, exact status, hard-bounce verdict), beside the aims
// (97% class, 90% hard-bounce; exact status has no aim because many
// labels are the corpus's own X.0.9NN codes). The reference measured in
// the same run is the time to parse the corpus, per file.
//
//	go run ./bench/corpus [-dir ../shared/corpus/bounces-sisimai] [-mismatches 10]
//
// The corpus lives beside the repository (../shared); without it the
// benchmark says so and exits 0. With BENCH_SUMMARY set to a file it
// appends its figures there for scripts/bench.sh's summary.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	benchreport "mailroom/bench/report"
	"mailroom/mail/report"
)

func main() {
	dir := flag.String("dir", filepath.Join("..", "shared", "corpus", "bounces-sisimai"), "corpus directory (expected.tsv and eml/), relative to the repository root")
	show := flag.Int("mismatches", 5, "print this many disagreeing recipients")
	flag.Parse()
	if _, err := os.Stat(filepath.Join(*dir, "expected.tsv")); err != nil {
		fmt.Printf("skipped: no corpus at %s\n", *dir)
		benchreport.AppendSummary([]string{"corpus: accuracy\tskipped (no corpus)\t—\tskip"})
		return
	}
	start := time.Now()
	acc, err := report.CorpusAccuracy(*dir)
	took := time.Since(start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/corpus:", err)
		os.Exit(1)
	}
	fmt.Printf("corpus: %s: %d files, %d labelled recipients, %d found by position; parsed in %s (%.2f ms per file)\n",
		*dir, acc.Files, acc.Recipients, acc.Found, took.Round(time.Millisecond), float64(took.Microseconds())/1000/float64(max(acc.Files, 1)))
	rows := [][]string{{"measure", "agree", "of", "rate", "aim", "verdict"}}
	var summary []string
	for _, m := range []struct {
		name    string
		n, of   int
		rate    float64
		aim     float64 // 0: none
		aimText string
	}{
		{"status class (2/4/5)", acc.ClassAgree, acc.Recipients, acc.ClassRate(), 0.97, "≥ 97%"},
		{"exact status (real codes only)", acc.StatusAgree, acc.StatusTotal, acc.StatusRate(), 0, "—"},
		{"hard-bounce verdict", acc.HardAgree, acc.Recipients, acc.HardRate(), 0.90, "≥ 90%"},
	} {
		verdict := "info"
		if m.aim > 0 {
			verdict = "ok"
			if m.rate < m.aim {
				verdict = "MISS"
			}
		}
		pct := fmt.Sprintf("%.1f%%", 100*m.rate)
		rows = append(rows, []string{m.name, fmt.Sprint(m.n), fmt.Sprint(m.of), pct, m.aimText, verdict})
		summary = append(summary, fmt.Sprintf("corpus: %s\t%s (%d/%d)\t%s\t%s", m.name, pct, m.n, m.of, m.aimText, verdict))
	}
	benchreport.Table(rows)
	for i, mm := range acc.Mismatches {
		if i == 0 {
			fmt.Printf("first of %d disagreeing recipients:\n", len(acc.Mismatches))
		}
		if i >= *show {
			break
		}
		fmt.Printf("  %s #%d (%s, %s): want %s hard=%v, got %q class=%s\n",
			mm.File, mm.Index, mm.Engine, mm.Reason, mm.WantStatus, mm.WantHard, mm.GotStatus, mm.GotClass)
	}
	benchreport.AppendSummary(summary)
}
