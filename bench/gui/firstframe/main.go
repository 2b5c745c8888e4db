// Command firstframe starts a GUI program and measures, against the X
// server, when its window was mapped, when it was first painted and when
// its picture stopped changing. It talks Xlib directly (cgo) so it can
// poll every 3 ms; xdotool plus a screenshot per poll costs ~150 ms a
// round, too coarse for a figure of a few hundred milliseconds.
//
//	firstframe -name TITLE [-settle 1.5s] [-timeout 60s] [-log FILE] -- CMD ARGS...
//
// "Painted" means most sampled pixels of the window differ from what the
// screen showed there before the program started, and the window is not
// mostly pure black (an X window whose GL surface was never swapped shows
// the old screen or black). "Settled" is the last change of the picture
// before it stayed the same for -settle (a UI that loads data after its
// first frame, like Mailroom's list, settles when the rows are drawn).
//
// It prints one line of key=value pairs (pid, mapped_ms, painted_ms,
// settled_ms, win, x, y, w, h) and exits, leaving the program running for
// the caller to inspect and stop.
package main

/*
#cgo LDFLAGS: -lX11
#include <stdlib.h>
#include <string.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>

static int ignoreErrors(Display *d, XErrorEvent *e) { return 0; }
static void quiet(void) { XSetErrorHandler(ignoreErrors); }

static XImage *grabRoot(Display *d) {
	Window root = DefaultRootWindow(d);
	XWindowAttributes a;
	if (!XGetWindowAttributes(d, root, &a)) return NULL;
	return XGetImage(d, root, 0, 0, a.width, a.height, AllPlanes, ZPixmap);
}

// findWindow returns a viewable top-level window named name (WM_NAME),
// looking one level below the root's children too (a window manager may
// reparent).
static Window findWindow(Display *d, const char *name) {
	Window root = DefaultRootWindow(d), r, p, *kids = NULL;
	unsigned int n = 0;
	Window found = 0;
	if (!XQueryTree(d, root, &r, &p, &kids, &n)) return 0;
	for (unsigned int i = 0; i < n && !found; i++) {
		Window cand[64];
		int nc = 0;
		cand[nc++] = kids[i];
		Window *sub = NULL;
		unsigned int ns = 0;
		if (XQueryTree(d, kids[i], &r, &p, &sub, &ns)) {
			for (unsigned int j = 0; j < ns && nc < 64; j++) cand[nc++] = sub[j];
			if (sub) XFree(sub);
		}
		for (int k = 0; k < nc && !found; k++) {
			char *wn = NULL;
			if (XFetchName(d, cand[k], &wn) && wn) {
				if (strcmp(wn, name) == 0) {
					XWindowAttributes a;
					if (XGetWindowAttributes(d, cand[k], &a) && a.map_state == IsViewable) found = cand[k];
				}
				XFree(wn);
			}
		}
	}
	if (kids) XFree(kids);
	return found;
}

// geometry gives the window's size and its position on the root.
static int geometry(Display *d, Window w, int *x, int *y, int *wd, int *ht) {
	XWindowAttributes a;
	Window child;
	if (!XGetWindowAttributes(d, w, &a) || a.map_state != IsViewable) return 0;
	if (!XTranslateCoordinates(d, w, DefaultRootWindow(d), 0, 0, x, y, &child)) return 0;
	*wd = a.width;
	*ht = a.height;
	return 1;
}

// sample compares a grid of the window's pixels (every 4th pixel of
// every rowStep-th row, read one row at a time so that a poll moves
// kilobytes, not the whole window, and steals little CPU from the program
// being measured) with the root picture taken before the program started.
// It returns the number of samples, and sets how many differ, how many are
// pure black, and a hash of the samples.
static int sample(Display *d, Window w, XImage *base, int ax, int ay, int wd, int ht, int rowStep,
		int *differ, int *black, unsigned long long *hash) {
	int n = 0;
	unsigned long long h = 1469598103934665603ULL;
	*differ = 0;
	*black = 0;
	for (int y = rowStep / 2; y < ht; y += rowStep) {
		XImage *img = XGetImage(d, w, 0, y, wd, 1, AllPlanes, ZPixmap);
		if (!img) return 0;
		for (int x = 2; x < wd; x += 4) {
			unsigned long px = XGetPixel(img, x, 0) & 0xffffff;
			int rx = ax + x, ry = ay + y;
			if (base && rx >= 0 && ry >= 0 && rx < base->width && ry < base->height) {
				if ((XGetPixel(base, rx, ry) & 0xffffff) != px) (*differ)++;
			} else {
				(*differ)++;
			}
			if (px == 0) (*black)++;
			h = (h ^ px) * 1099511628211ULL;
			n++;
		}
		XDestroyImage(img);
	}
	*hash = h;
	return n;
}
*/
import "C"

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"
	"unsafe"
)

func main() {
	name := flag.String("name", "", "window title to wait for (exact)")
	settle := flag.Duration("settle", 1500*time.Millisecond, "the picture is settled after it stayed the same this long")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	logPath := flag.String("log", "", "the program's stdout and stderr go here (default: discarded)")
	verbose := flag.Bool("v", false, "print every poll's samples (time, count, differing, black) to stderr")
	flag.Parse()
	if *name == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: firstframe -name TITLE [-settle D] [-timeout D] [-log FILE] -- CMD ARGS...")
		os.Exit(2)
	}
	d := C.XOpenDisplay(nil)
	if d == nil {
		fail("cannot open display %q", os.Getenv("DISPLAY"))
	}
	C.quiet()
	base := C.grabRoot(d)
	if base == nil {
		fail("cannot read the root window")
	}
	cname := C.CString(*name)
	defer C.free(unsafe.Pointer(cname))

	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			fail("%v", err)
		}
		cmd.Stdout, cmd.Stderr = f, f
	}
	exited := make(chan error, 1)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		fail("start: %v", err)
	}
	child = cmd.Process
	go func() { exited <- cmd.Wait() }()
	ms := func(t time.Time) float64 { return float64(t.Sub(t0).Microseconds()) / 1000 }
	alive := func() {
		select {
		case err := <-exited:
			fail("%s exited before it was measured: %v", flag.Arg(0), err)
		default:
		}
		if time.Since(t0) > *timeout {
			fail("no %q window painted within %s", *name, *timeout)
		}
	}

	var win C.Window
	for {
		alive()
		if win = C.findWindow(d, cname); win != 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	mapped := time.Now()

	var x, y, w, h C.int
	var painted time.Time
	var lastHash C.ulonglong
	lastChange := mapped
	for {
		alive()
		now := time.Now()
		if C.geometry(d, win, &x, &y, &w, &h) == 0 {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		var differ, black C.int
		var hash C.ulonglong
		n := C.sample(d, win, base, x, y, w, h, 24, &differ, &black, &hash)
		if *verbose {
			fmt.Fprintf(os.Stderr, "%8.1f ms %dx%d samples=%d differ=%d black=%d hash=%x\n", ms(now), int(w), int(h), int(n), int(differ), int(black), uint64(hash))
		}
		if n > 0 {
			if painted.IsZero() && int(differ)*10 >= int(n)*9 && int(black)*2 < int(n) {
				painted, lastChange, lastHash = now, now, hash
			} else if !painted.IsZero() {
				if hash != lastHash {
					lastChange, lastHash = now, hash
				} else if now.Sub(lastChange) >= *settle {
					break
				}
			}
		}
		if painted.IsZero() {
			time.Sleep(3 * time.Millisecond)
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	C.XCloseDisplay(d)
	fmt.Printf("pid=%d mapped_ms=%.1f painted_ms=%.1f settled_ms=%.1f win=%d x=%d y=%d w=%d h=%d\n",
		cmd.Process.Pid, ms(mapped), ms(painted), ms(lastChange), uint64(win), int(x), int(y), int(w), int(h))
	// The program keeps running: the caller measures it further and
	// stops it.
}

// child is killed when the measurement fails, so no window is left behind.
var child *os.Process

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "firstframe: "+format+"\n", args...)
	if child != nil {
		_ = child.Kill()
	}
	os.Exit(1)
}
