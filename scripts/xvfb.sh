# Sourced by the window scripts: starts a private Xvfb and exports DISPLAY.
# The caller must `trap stop_xvfb EXIT`. Xvfb picks a free display itself
# (-displayfd), so parallel runs and stale lock files cannot collide.
start_xvfb() {
	fd_file=$(mktemp)
	Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$fd_file" >/dev/null 2>&1 &
	XVFB_PID=$!
	for _ in $(seq 100); do
		n=$(cat "$fd_file" 2>/dev/null)
		if [ -n "$n" ]; then
			export DISPLAY=":$n"
			if xdpyinfo >/dev/null 2>&1; then
				rm -f "$fd_file"
				return 0
			fi
		fi
		kill -0 "$XVFB_PID" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$fd_file"
	echo "could not start Xvfb (apt-get install xvfb x11-utils)" >&2
	return 1
}
stop_xvfb() {
	[ -n "${APP_PID:-}" ] && kill "$APP_PID" 2>/dev/null || true
	[ -n "${XVFB_PID:-}" ] && kill "$XVFB_PID" 2>/dev/null || true
	APP_PID=
	XVFB_PID=
}
# wait_window NAME: waits up to 60 s for a mapped window whose title is NAME.
wait_window() {
	for _ in $(seq 600); do
		id=$(xdotool search --onlyvisible --name "^$1\$" 2>/dev/null | head -n1)
		[ -n "$id" ] && { echo "$id"; return 0; }
		kill -0 "$APP_PID" 2>/dev/null || { echo "the app exited before showing a window" >&2; return 1; }
		sleep 0.1
	done
	echo "no window named $1 within 60 s" >&2
	return 1
}
