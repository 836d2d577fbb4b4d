package main

import (
	"math"
	"slices"
	"time"
)

// median is the middle of xs (the mean of the two middle values for an
// even count); NaN for none.
func median(xs []float64) float64 {
	return percentile(xs, 50)
}

// percentile is the p-th percentile of xs by linear interpolation between
// closest ranks; NaN for none.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	return s[lo] + (s[hi]-s[lo])*(rank-float64(lo))
}

// micros converts durations to microseconds.
func micros(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Microsecond)
	}
	return out
}
