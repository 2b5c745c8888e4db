#!/bin/sh
# Screenshots of the real binary under a private Xvfb: seeds a data dir,
# opens each view (MAILROOM_OPEN) and captures the window.
# Usage: screenshots.sh BIN OUTDIR
set -eu
bin=$1
out=$2
. "$(dirname "$0")/xvfb.sh"
tmp=$(mktemp -d)
trap 'stop_xvfb; rm -rf "$tmp"' EXIT
mkdir -p "$out"
data="$tmp/data"
CGO_ENABLED=0 go run ./internal/seed/seedcmd -n 2000 -dir "$data" >/dev/null
"$bin" --data-dir "$data" account add work --name "Alice Example" --email alice@mailroom.example \
	--smtp smtp.mailroom.example:465 --smtp-security tls --imap imap.mailroom.example:993 --imap-security tls \
	--username alice --password-command 'echo not-a-real-password' >/dev/null
start_xvfb
shot() { # NAME VIEW
	# No workers: the example accounts' hosts are not looked up (no
	# traffic off the machine) and every run draws the same outbox.
	MAILROOM_NO_WORKERS=1 MAILROOM_OPEN=$2 "$bin" --data-dir "$data" >"$tmp/app.log" 2>&1 &
	APP_PID=$!
	id=$(wait_window Mailroom) || { cat "$tmp/app.log" >&2; exit 1; }
	xdotool windowsize "$id" 1200 760 2>/dev/null || true
	sleep 2.5
	/usr/bin/import -window root -crop 1200x760+0+0 "$out/$1.png"
	kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true
	APP_PID=
	echo "screenshots: $out/$1.png"
}
shot tracking sent
shot detail message:0000000000000001
shot overview overview
shot outbox outbox
shot compose new
shot accounts account:work
shot settings settings
