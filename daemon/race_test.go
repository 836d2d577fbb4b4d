//go:build race

package daemon_test

// raceEnabled: the race detector runs, which grows every goroutine's
// footprint (its shadow state and larger stacks); memory budgets
// measured in tests allow for it.
const raceEnabled = true
