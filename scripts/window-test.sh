#!/bin/sh
# Proves the real binary opens its window: starts it under a private Xvfb
# with a fresh data dir, waits for the "Mailroom" window, checks the screen
# is not blank, and closes it. Used by `make test`. An X server that goes
# away under the app (seen on busy shared hosts) gets one more try with a
# fresh server; a window that never appears on a live server fails at once.
set -eu
bin=$1
. "$(dirname "$0")/xvfb.sh"
tmp=$(mktemp -d)
trap 'stop_xvfb; rm -rf "$tmp"' EXIT
attempt() {
	start_xvfb
	rm -rf "$tmp/data"
	start=$(date +%s%N)
	"$bin" --data-dir "$tmp/data" >"$tmp/app.log" 2>&1 &
	APP_PID=$!
	id=$(wait_window Mailroom) || return 1
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	sleep 1
	/usr/bin/import -window root "$tmp/shot.png"
	colors=$(/usr/bin/identify -format '%k' "$tmp/shot.png")
	if [ "$colors" -lt 16 ]; then
		echo "window-test: the screen has only $colors colours: nothing was drawn" >&2
		exit 1
	fi
	echo "window-test: window $id on $DISPLAY mapped after ${ms} ms, $colors colours on screen: ok"
}
if ! attempt; then
	if grep -q "Failed to open display" "$tmp/app.log"; then
		echo "window-test: the X server went away; retrying once with a fresh one" >&2
		stop_xvfb
		attempt || { cat "$tmp/app.log" >&2; exit 1; }
	else
		cat "$tmp/app.log" >&2
		exit 1
	fi
fi
