#!/usr/bin/env bash
# mailstack.sh - install the packages for, and start/stop, mailroom's real
# loopback mail stack (Postfix + Dovecot). The configuration lives in Go
# (internal/mailstack, templates in conf/); this script only wraps it.
#
#   sudo internal/mailstack/mailstack.sh install   # Debian/Ubuntu packages (no system config written)
#   sudo internal/mailstack/mailstack.sh start     # prints MAILSTACK_* lines; eval them
#   sudo internal/mailstack/mailstack.sh stop [DIR]  # default: $MAILSTACK_DIR
#
# Tests do not need this script: mailstack.Start(t) does the same in-process.
set -euo pipefail
self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
cd "$(dirname "$self")/../.."   # module root

need_root() { [ "$(id -u)" = 0 ] || { echo "mailstack.sh: run as root (Postfix's master and Dovecot need it)" >&2; exit 1; }; }

case "${1:-}" in
install)
	need_root
	export DEBIAN_FRONTEND=noninteractive
	# "No configuration": the package must not write /etc/postfix/main.cf;
	# policy-rc.d / no systemd keeps the system instances stopped, as wanted.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update
	apt-get install -y --no-install-recommends postfix dovecot-core dovecot-imapd dovecot-lmtpd
	;;
start)
	need_root
	shift
	exec go run ./internal/mailstack/cmd/mailstack start "$@"
	;;
stop)
	need_root
	exec go run ./internal/mailstack/cmd/mailstack stop -dir "${2:-${MAILSTACK_DIR:?give DIR or set MAILSTACK_DIR}}"
	;;
*)
	sed -n '2,10p' "$self" >&2
	exit 2
	;;
esac
