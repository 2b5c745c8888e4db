// Package archtest enforces the import rules of DESIGN.md section 1 with
// `go list`: a negative list of imports per package, checked over each
// package's transitive dependencies (so a forbidden import cannot hide
// behind a helper package).
package archtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// Rule forbids packages matching Deny in the dependencies of packages
// matching Scope.
type Rule struct {
	Scope  string   // package path prefix the rule applies to
	Except []string // package path prefixes inside Scope that are exempt
	Deny   []string // forbidden dependency prefixes
	// Direct checks only the package's own imports, not what they pull in
	// (for "only X may import Y" rules, where others reach Y through X).
	Direct bool
	Why    string
}

// Rules are the project's import rules.
var Rules = []Rule{
	{Scope: "mailroom/mail", Deny: []string{"fyne.io/", "mailroom/ui", "mailroom/app", "mailroom/cli", "mailroom/tracking"},
		Why: "mail/... is protocol code: no UI, no composition root, never the delivery domain"},
	{Scope: "mailroom/tracking", Deny: []string{"fyne.io/", "mailroom/ui", "mailroom/app", "mailroom/cli",
		"github.com/emersion/go-smtp", "github.com/emersion/go-imap", "mailroom/mail/submit", "mailroom/mail/imapsource"},
		Why: "tracking/... reaches the network only through interfaces that app wires"},
	{Scope: "mailroom/ui", Deny: []string{"database/sql", "modernc.org/sqlite", "github.com/emersion/go-smtp",
		"github.com/emersion/go-imap", "mailroom/app", "mailroom/cli", "mailroom/tracking/store", "mailroom/internal/sqlitedb",
		"fyne.io/fyne/v2/app"},
		Why: "ui/... talks to services through its own interfaces"},
	{Scope: "mailroom/", Except: []string{"mailroom/ui"}, Deny: []string{"fyne.io/fyne/v2/app"},
		Why: "only main imports fyne.io/fyne/v2/app, so everything else builds without cgo or a display"},
	{Scope: "mailroom/cmd/mailroom-tracker", Deny: []string{"fyne.io/"},
		Why: "the tracker is a plain server: no Fyne, no cgo"},
	{Scope: "mailroom/", Except: []string{"mailroom/mail/imapsource", "mailroom/bench", "mailroom/internal/mailstack"},
		Deny: []string{"github.com/emersion/go-imap/v2"}, Direct: true,
		Why: "go-imap/v2 is a beta: only mail/imapsource may import it, behind our own interface"},
}

// Package is one package, its own imports and its transitive dependencies.
type Package struct {
	Path    string
	Deps    []string
	Imports []string
}

// List runs `go list` over patterns (with the headless build tags, so it
// works without cgo) and returns every package with its
// dependencies.
func List(dir string, patterns ...string) ([]Package, error) {
	args := append([]string{"list", "-tags", "ci migrated_fynedo", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, stderr.String())
	}
	var pkgs []Package
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "|", 3)
		if len(f) != 3 {
			continue
		}
		pkgs = append(pkgs, Package{Path: f[0], Imports: strings.Fields(f[1]), Deps: strings.Fields(f[2])})
	}
	return pkgs, sc.Err()
}

func hasPrefix(path, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(path, prefix)
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// Check returns one line per violation.
func Check(pkgs []Package, rules []Rule) []string {
	var out []string
	for _, p := range pkgs {
		for _, r := range rules {
			if !hasPrefix(p.Path, r.Scope) || p.Path == "mailroom" {
				continue
			}
			exempt := false
			for _, e := range r.Except {
				exempt = exempt || hasPrefix(p.Path, e)
			}
			if exempt {
				continue
			}
			deps := p.Deps
			if r.Direct {
				deps = p.Imports
			}
			for _, d := range deps {
				for _, deny := range r.Deny {
					if hasPrefix(d, deny) {
						out = append(out, fmt.Sprintf("%s imports %s (%s)", p.Path, d, r.Why))
					}
				}
			}
		}
	}
	return out
}
