#!/bin/sh
# Runs every Go fuzz target of the module (every `func FuzzXxx(f *testing.F)`
# in a committed _test.go file), each for FUZZTIME, one after the other:
# `go test -fuzz` takes one target of one package at a time. Each starts
# from its seed corpus, testdata/fuzz/FuzzXxx beside it, plus its f.Add
# seeds. Stops at the first target that fails; the failing input is then
# in that package's testdata/fuzz/FuzzXxx (rerun with `go test -run`).
set -eu
FUZZTIME=${FUZZTIME:-20s}
GO=${GO:-go}
cd "$(dirname "$0")/.."
n=0
for f in $(git ls-files '*_test.go'); do
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' "$f"); do
		dir=./$(dirname "$f")
		echo "== $dir $target ($FUZZTIME)"
		$GO test "$dir" -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME"
		n=$((n + 1))
	done
done
echo "fuzz: $n targets, $FUZZTIME each, no failure"
