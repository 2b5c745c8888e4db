package classify

import (
	"fmt"
	"net/netip"
	"time"
)

// Class is the verdict on one hit.
type Class string

const (
	HumanLikely    Class = "human-likely"
	MachineOrProxy Class = "machine-or-proxy"
	Unknown        Class = "unknown"
)

// HitKind is what was fetched.
type HitKind string

const (
	Open  HitKind = "open"
	Click HitKind = "click"
)

// Hit is one recorded request, as the events API returns it.
type Hit struct {
	Kind      HitKind
	At        time.Time
	UserAgent string
	UAClass   UAClass      // as stored by the tracker; computed from UserAgent when empty
	Source    netip.Prefix // coarse source (/24 or /48); invalid when the tracker keeps none
}

// CopyContext is what the app knows about the copy the hit belongs to.
type CopyContext struct {
	// AcceptedAt is when the submission server accepted this copy (zero if
	// unknown). Scanners fetch within seconds of delivery; people rarely do.
	AcceptedAt time.Time
	// SiblingCopies is how many other copies of the same message carry
	// tracking; SiblingHits holds, for each of them that was hit, the time of
	// its first hit of the same kind (one entry per copy).
	SiblingCopies int
	SiblingHits   []time.Time
	// HumanClick says a link in this copy was clicked from something that
	// was not itself judged a machine: proof that the copy was opened.
	HumanClick bool
	// Thresholds; zero values take the defaults below.
	ScannerWindow time.Duration // default 30s
	BulkWindow    time.Duration // default 10s
	ManyAtOnce    int           // default 5
}

const (
	DefaultScannerWindow = 30 * time.Second
	DefaultBulkWindow    = 10 * time.Second
	DefaultManyAtOnce    = 5
)

// Classify judges one hit of one copy. Rules, first match wins:
//  1. a scanner or bot User-Agent is a machine;
//  2. a hit within ScannerWindow of acceptance is a machine (a scanner
//     checking the message on arrival);
//  3. for opens, a human click on the copy proves it was opened;
//  4. Google's and Yahoo's image proxies hide who fetched (machine-or-proxy);
//  5. Apple Mail Privacy Protection: the bare "Mozilla/5.0", or Apple's Mail
//     string from Apple's addresses or together with many other copies;
//  6. every copy of the message (at least 3), or ManyAtOnce copies, fetched
//     within BulkWindow of each other is a machine;
//  7. a browser, Outlook or other mail app is human-likely;
//  8. anything else is unknown.
func Classify(h Hit, c CopyContext) (Class, string) {
	if h.UAClass == "" {
		h.UAClass = ClassifyUA(h.UserAgent)
	}
	if c.ScannerWindow <= 0 {
		c.ScannerWindow = DefaultScannerWindow
	}
	if c.BulkWindow <= 0 {
		c.BulkWindow = DefaultBulkWindow
	}
	if c.ManyAtOnce <= 0 {
		c.ManyAtOnce = DefaultManyAtOnce
	}
	what := "The image was loaded"
	if h.Kind == Click {
		what = "The link was opened"
	}

	switch h.UAClass {
	case UAScanner:
		return MachineOrProxy, what + " by a security scanner, not by the recipient."
	case UABot:
		return MachineOrProxy, what + " by an automated program (a crawler or script), not by a mail reader."
	}
	if !c.AcceptedAt.IsZero() && !h.At.Before(c.AcceptedAt) && h.At.Sub(c.AcceptedAt) < c.ScannerWindow {
		return MachineOrProxy, fmt.Sprintf("%s %s after the server accepted the message: too soon for a person, typical of a security scanner.",
			what, roundSecs(h.At.Sub(c.AcceptedAt)))
	}
	if h.Kind == Open && c.HumanClick {
		return HumanLikely, "A link in this copy was clicked, so it was certainly opened."
	}
	together := simultaneous(h.At, c.SiblingHits, c.BulkWindow)
	switch h.UAClass {
	case UAGoogleImageProxy:
		return MachineOrProxy, "Loaded through Google's image proxy (Gmail). It usually means the message was opened in Gmail, but the proxy hides who opened it and caches later opens."
	case UAYahooProxy:
		return MachineOrProxy, "Loaded through Yahoo Mail's image proxy, which hides who opened the message and may load images without anyone reading it."
	case UAAppleMPPLike:
		switch {
		case h.UserAgent == "Mozilla/5.0":
			return MachineOrProxy, "Apple Mail Privacy Protection loads images when the message arrives, whether or not anyone reads it."
		case InAppleRange(h.Source):
			return MachineOrProxy, "Loaded by Apple's servers (Mail Privacy Protection), which fetch images when the message arrives, whether or not anyone reads it."
		case together+1 >= c.ManyAtOnce:
			return MachineOrProxy, fmt.Sprintf("Apple Mail signature with %d copies of this message loaded at the same moment: Mail Privacy Protection, not people reading.", together+1)
		}
	}
	if c.SiblingCopies >= 2 && together >= c.SiblingCopies {
		return MachineOrProxy, fmt.Sprintf("All %d copies of this message were loaded within %s of each other: an automatic fetch, not people reading.",
			c.SiblingCopies+1, roundSecs(c.BulkWindow))
	}
	if together+1 >= c.ManyAtOnce {
		return MachineOrProxy, fmt.Sprintf("This copy and %d others of the same message were loaded within %s of each other: an automatic fetch, not people reading.",
			together, roundSecs(c.BulkWindow))
	}
	switch h.UAClass {
	case UABrowser:
		if h.Kind == Click {
			return HumanLikely, "The link was opened in a web browser."
		}
		return HumanLikely, "The image was loaded by a mail program or browser, as when a person opens the message."
	case UAOutlook:
		return HumanLikely, what + " by Microsoft Outlook, as when a person opens the message."
	case UAAppleMPPLike:
		return Unknown, "Apple Mail: either the recipient opened the message or Mail Privacy Protection loaded it; the two cannot be told apart here."
	}
	return Unknown, what + " by a program that could not be identified."
}

// simultaneous counts sibling hits within window of at.
func simultaneous(at time.Time, hits []time.Time, window time.Duration) int {
	n := 0
	for _, t := range hits {
		d := t.Sub(at)
		if d < 0 {
			d = -d
		}
		if d <= window {
			n++
		}
	}
	return n
}

func roundSecs(d time.Duration) string {
	if d < time.Second {
		return "less than a second"
	}
	s := int(d.Round(time.Second) / time.Second)
	if s == 1 {
		return "1 second"
	}
	return fmt.Sprintf("%d seconds", s)
}
