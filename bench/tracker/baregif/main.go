// Command baregif is the tracker benchmark's reference: a bare net/http
// server answering every GET with the tracker's 43-byte pixel and the same
// headers, recording nothing. The tracker's requests per second are
// reported as a ratio over this one's, measured with the same wrk settings
// in the same run, so the figure is about the tracker's own work (token
// check, classification, the durable write), not about the machine.
//
//	baregif [-listen 127.0.0.1:18788] [-gif tracking/opentrack/server/pixel.gif]
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18788", "address to listen on (loopback)")
	gifPath := flag.String("gif", "tracking/opentrack/server/pixel.gif", "the GIF to serve (the tracker's own pixel)")
	flag.Parse()
	gif, err := os.ReadFile(*gifPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "baregif:", err)
		os.Exit(1)
	}
	size := strconv.Itoa(len(gif))
	pixel := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The same headers as the tracker's pixel, so both answers are
		// the same bytes on the wire.
		h := w.Header()
		h.Set("Content-Type", "image/gif")
		h.Set("Content-Length", size)
		h.Set("Cache-Control", "no-cache, no-store, must-revalidate, private, max-age=0")
		h.Set("Pragma", "no-cache")
		h.Set("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		w.WriteHeader(http.StatusOK)
		w.Write(gif)
	})
	// The tracker's server settings, so connection handling is alike.
	hs := &http.Server{Addr: *listen, Handler: pixel, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
	if err := hs.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "baregif:", err)
		os.Exit(1)
	}
}
