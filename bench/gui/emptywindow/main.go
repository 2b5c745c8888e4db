// Command emptywindow is the GUI benchmark's reference: a Fyne app with
// one empty window titled "Empty", built with the same Fyne version, the
// same tags (migrated_fynedo) and cgo, like bin/mailroom. Its time to
// first frame and its memory are what any Fyne window costs here, so the
// benchmark can report Mailroom's figures as ratios over it.
//
// It is its own module so that `go list ./...` in the main module (the
// import-rule test, go vet) never sees a second importer of
// fyne.io/fyne/v2/app; go.mod pins the same fyne.io/fyne/v2 as the main
// module and bench/gui/run.sh checks that they agree.
package main

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
)

func main() {
	a := app.NewWithID("app.mailroom.bench.emptywindow")
	w := a.NewWindow("Empty")
	// The same size Mailroom's main window asks for, so both paint the
	// same number of pixels.
	w.Resize(fyne.NewSize(1100, 720))
	w.ShowAndRun()
}
