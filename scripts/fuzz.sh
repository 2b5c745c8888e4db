#!/bin/sh
# Runs every fuzz target of the project for the given time each
# (default 30s): `make fuzz FUZZTIME=5m`. New crashers land in the
# package's testdata/fuzz/ and then run as regression tests in `make test`.
set -eu
cd "$(dirname "$0")/.."
t=${1:-30s}
export CGO_ENABLED=0
failed=0
for pkg in $(go list -tags 'ci migrated_fynedo' ./...); do
	for target in $(go test -tags 'ci migrated_fynedo' -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "== $pkg $target ($t)"
		if ! go test -tags 'ci migrated_fynedo' -run '^$' -fuzz "^$target\$" -fuzztime "$t" "$pkg"; then
			failed=$((failed + 1))
		fi
	done
done
[ "$failed" = 0 ] || { echo "fuzz: $failed target(s) failed" >&2; exit 1; }
echo "fuzz: all targets ran for $t each"
