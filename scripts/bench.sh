#!/bin/sh
# The benchmark harness (`make bench`): every speed, memory and accuracy
# figure beside a reference measured in the same run, then a summary.
# docs/BENCHMARKS.md says what each section measures and how to run one
# alone.
#
#   scripts/bench.sh                       # everything (about 3 minutes on 2 cores)
#   BENCH_ONLY="view tracker" scripts/bench.sh
#   BENCH_DATA=/tmp/seed100k scripts/bench.sh   # keep (or reuse) the seeded data dir
#
# Sections: view, gui, tracker, corpus, outbox, reports. A section whose
# prerequisite is missing (a display tool, wrk, root for Postfix) says
# "skipped: ..." and the others go on. A target missed is a figure, not a
# failure; the exit status is non-zero only when a section could not run
# to its end.
set -u
cd "$(dirname "$0")/.."
only=${BENCH_ONLY:-view gui tracker corpus outbox reports}
tags='migrated_fynedo ci'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export BENCH_SUMMARY="$tmp/summary.tsv"
: >"$BENCH_SUMMARY"
failed=""

want() { case " $only " in *" $1 "*) return 0 ;; esac; return 1; }
section() {
	echo
	echo "=== $1"
	section_start=$(date +%s)
}
done_section() { # NAME STATUS
	if [ "$2" -ne 0 ]; then
		failed="$failed $1"
		printf '%s\tFAILED (exit %s)\t—\tFAIL\n' "$1" "$2" >>"$BENCH_SUMMARY"
		echo "--- $1: FAILED (exit $2) after $(($(date +%s) - section_start)) s"
	else
		echo "--- $1: $(($(date +%s) - section_start)) s"
	fi
}
skip() { # NAME REASON
	echo "skipped: $2"
	printf '%s\tskipped: %s\t—\tskip\n' "$1" "$2" >>"$BENCH_SUMMARY"
}

started=$(date +%s)
echo "mailroom benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPU ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)), $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo) RAM, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"

if [ ! -x bin/mailroom ] || [ ! -x bin/mailroom-tracker ]; then
	make build || exit 1
fi

# One seeded data dir serves the view and the GUI sections.
data=${BENCH_DATA:-$tmp/data}
if want view || want gui; then
	CGO_ENABLED=0 go build -o "$tmp/benchview" ./bench/view || exit 1
fi

if want view; then
	section "tracking view: paged queries on 100,000 messages (bench/view)"
	"$tmp/benchview" -dir "$data"
	done_section view $?
fi

if want gui; then
	section "GUI: bin/mailroom vs an empty Fyne window under Xvfb (bench/gui)"
	if ! command -v tesseract >/dev/null 2>&1; then
		# OCR reads the last row to prove the list reached its end.
		./scripts/deps.sh tesseract-ocr tesseract-ocr-eng >/dev/null 2>&1 ||
			echo "note: tesseract-ocr is not installed; the end of the list is checked by the scroll bar only"
	fi
	if [ ! -s "$data/mailroom.db" ]; then
		"$tmp/benchview" -dir "$data" -runs 1 >/dev/null
	fi
	./bench/gui/run.sh bin/mailroom "$data" "${BENCH_GUI_ROUNDS:-3}"
	done_section gui $?
fi

if want tracker; then
	section "tracker: pixel hits per second vs a bare net/http server (bench/tracker)"
	if ! command -v wrk >/dev/null 2>&1; then
		skip tracker "wrk not installed (apt-get install wrk)"
	else
		CGO_ENABLED=0 go build -o "$tmp/baregif" ./bench/tracker/baregif &&
			CGO_ENABLED=0 go run ./bench/tracker -tracker bin/mailroom-tracker -baregif "$tmp/baregif"
		done_section tracker $?
	fi
fi

if want corpus; then
	section "bounce corpus accuracy: mail/report on Sisimai's labelled bounces (bench/corpus)"
	CGO_ENABLED=0 go run ./bench/corpus -dir ../shared/corpus/bounces-sisimai
	done_section corpus $?
fi

# bench/outbox and bench/reports belong to other parts of the project;
# they are Go benchmarks run the way their package docs say.
gobench() { # NAME DIR NEEDS BENCHTIME [TAGS] (NEEDS: smtp-sink: Postfix's tools; mailstack: root, Postfix and Dovecot)
	if ! ls "$2"/*_test.go >/dev/null 2>&1; then
		skip "$1" "not present ($2 has no benchmarks)"
		return
	fi
	if [ "$3" = smtp-sink ] && [ ! -x /usr/sbin/smtp-sink ]; then
		skip "$1" "Postfix's smtp-sink not installed (make deps-test)"
		return
	fi
	if [ "$3" = mailstack ]; then
		if [ "$(id -u)" != 0 ]; then
			skip "$1" "needs root to run Postfix and Dovecot"
			return
		fi
		if [ ! -x /usr/sbin/postfix ] || [ ! -x /usr/sbin/dovecot ]; then
			skip "$1" "Postfix or Dovecot not installed (make deps-test)"
			return
		fi
	fi
	# Built first and run with a wall-clock limit of our own: go test's
	# -timeout does not cover benchmarks, and a hung one must not hold
	# the whole harness. SIGQUIT makes it print its goroutines first.
	if ! CGO_ENABLED=0 go test -tags "$tags ${5:-}" -c -o "$tmp/$1.test" "./$2"; then
		done_section "$1" 1
		return
	fi
	limit=${BENCH_GO_TIMEOUT:-240}
	{
		(cd "$2" && timeout -s QUIT -k 10 "$limit" "$tmp/$1.test" -test.run '^$' -test.bench . -test.benchtime "${4:-1x}" 2>&1)
		echo $? >"$tmp/$1.status"
	} | tee "$tmp/$1.out"
	st=$(cat "$tmp/$1.status")
	[ "$st" -eq 124 ] || [ "$st" -eq 131 ] && echo "$1: stopped after ${limit} s (BENCH_GO_TIMEOUT)"
	grep -q -- '--- FAIL\|^FAIL' "$tmp/$1.out" && [ "$st" -eq 0 ] && st=1
	if grep -q -- '--- SKIP' "$tmp/$1.out"; then
		printf '%s\tskipped by the benchmark (see its output)\t—\tskip\n' "$1" >>"$BENCH_SUMMARY"
	elif [ "$st" -eq 0 ]; then
		# Their figures are the custom metrics of each Benchmark line
		# ("10.2 ratio  0 non-report-bodies"); the targets are in their output.
		# The metrics follow "ns/op" on the benchmark's last line, which
		# holds its name only when the benchmark printed nothing.
		awk -v name="$1" '/^Benchmark/ { bench = $1; sub(/-[0-9]+$/, "", bench) }
			/ ns\/op/ {
				k = 0
				for (i = 1; i <= NF; i++) if ($i == "ns/op") k = i
				m = ""
				for (i = k + 1; i < NF; i += 2) m = m (m == "" ? "" : ", ") $(i + 1) " " $i
				last = name ": " bench "\t" m "\tsee above\tinfo"
			}
			END { if (last != "") print last }' "$tmp/$1.out" >>"$BENCH_SUMMARY"
	fi
	done_section "$1" "$st"
}
if want outbox; then
	section "outbox (bench/outbox)"
	if [ -d bench/outbox ]; then gobench outbox bench/outbox smtp-sink 3x mailroom_plaintext_bench; else skip outbox "not present"; fi
fi
if want reports; then
	section "report sync (bench/reports)"
	if [ -d bench/reports ]; then gobench reports bench/reports mailstack 3x; else skip reports "not present"; fi
fi

echo
echo "=== summary ($(($(date +%s) - started)) s, load average now $(cut -d' ' -f1-3 /proc/loadavg))"
# figure, verdict, measured, target: the last column may hold multibyte
# signs (≤) that awk would miscount when padding.
awk -F'\t' '
	{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR }
	END {
		cell[0, 1] = "figure"; cell[0, 2] = "measured"; cell[0, 3] = "target"; cell[0, 4] = "verdict"
		for (i = 1; i <= 4; i++) if (length(cell[0, i]) > w[i]) w[i] = length(cell[0, i])
		f = "  %-" w[1] "s  %-" w[4] "s  %-" w[2] "s  %s\n"
		for (r = 0; r <= n; r++) printf f, cell[r, 1], cell[r, 4], cell[r, 2], cell[r, 3]
	}' "$BENCH_SUMMARY"
misses=$(awk -F'\t' '$4 ~ /^MISS/' "$BENCH_SUMMARY" | wc -l)
echo "  $misses target(s) missed"
if [ -n "$failed" ]; then
	echo "sections that failed:$failed"
	exit 1
fi
