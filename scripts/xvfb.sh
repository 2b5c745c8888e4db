# Sourced by the window scripts: starts a private Xvfb and exports DISPLAY.
# The caller must `trap stop_xvfb EXIT`.
start_xvfb() {
	for n in $(seq 90 140); do
		[ -e "/tmp/.X$n-lock" ] && continue
		Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
		XVFB_PID=$!
		export DISPLAY=":$n"
		for _ in $(seq 50); do
			xdpyinfo >/dev/null 2>&1 && return 0
			kill -0 "$XVFB_PID" 2>/dev/null || break
			sleep 0.1
		done
	done
	echo "could not start Xvfb (apt-get install xvfb x11-utils)" >&2
	return 1
}
stop_xvfb() {
	[ -n "${APP_PID:-}" ] && kill "$APP_PID" 2>/dev/null || true
	[ -n "${XVFB_PID:-}" ] && kill "$XVFB_PID" 2>/dev/null || true
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
