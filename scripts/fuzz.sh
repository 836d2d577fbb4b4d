#!/bin/sh
# Runs every Go fuzz target of the module (every `func FuzzXxx(f *testing.F)`
# in a committed _test.go file), each for FUZZTIME, one after the other:
# `go test -fuzz` takes one target of one package at a time. Each starts
# from its seed corpus, testdata/fuzz/FuzzXxx beside it, plus its f.Add
# seeds. A target that fails does not stop the others; the run fails at
# the end naming them, and each failing input is in its package's
# testdata/fuzz/FuzzXxx (rerun it with `go test -run FuzzXxx/NAME`).
set -eu
FUZZTIME=${FUZZTIME:-20s}
GO=${GO:-go}
cd "$(dirname "$0")/.."
n=0
failed=""
for f in $(git ls-files '*_test.go'); do
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' "$f"); do
		dir=./$(dirname "$f")
		echo "== $dir $target ($FUZZTIME)"
		$GO test "$dir" -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" || failed="$failed $dir:$target"
		n=$((n + 1))
	done
done
if [ -n "$failed" ]; then
	echo "fuzz: $n targets, $FUZZTIME each; failed:$failed"
	exit 1
fi
echo "fuzz: $n targets, $FUZZTIME each, no failure"
