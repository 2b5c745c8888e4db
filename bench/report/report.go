// Package report prints the benchmark harness's tables and appends their
// verdict lines to the run's summary file (BENCH_SUMMARY), so every
// benchmark in bench/ reports the same way.
package report

import (
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// Table prints rows with the first column left-aligned and the others
// right-aligned, two spaces apart.
func Table(rows [][]string) {
	width := map[int]int{}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i == 0 {
				b.WriteString("  " + c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Println(b.String())
	}
}

// AppendSummary adds lines to the file named by BENCH_SUMMARY, if any.
func AppendSummary(lines []string) {
	path := os.Getenv("BENCH_SUMMARY")
	if path == "" || len(lines) == 0 {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	f.WriteString(strings.Join(lines, "\n") + "\n")
}
