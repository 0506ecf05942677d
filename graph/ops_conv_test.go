package graph

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPoolArg2 holds the branch-free 2×2 argmax (argmax4) to the comparison loop it
// replaces, written plainly: the first of the largest, each input compared
// with the running largest by >, over ties, signed zeros, infinities and
// NaNs in every position.
func TestPoolArg2(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	negZero := math.Copysign(0, -1)
	special := []float64{0, negZero, 1, -1, 1, inf, -inf, nan, 2.5}
	var windows [][4]float64
	for _, a := range special {
		for _, b := range special {
			for _, c := range special {
				for _, d := range special {
					windows = append(windows, [4]float64{a, b, c, d})
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		var w [4]float64
		for i := range w {
			w[i] = float64(r.IntN(3)) // many ties
		}
		windows = append(windows, w)
	}
	for _, w := range windows {
		// The window's four inputs at the corners of a 3-wide map.
		a := []float64{w[0], w[1], 9, w[2], w[3], 9}
		best, v := 0, a[0]
		for _, at := range []int{1, 3, 4} {
			if a[at] > v {
				best, v = at, a[at]
			}
		}
		if got := poolArg(a, 0, 3, 2, 0, 0); got != best {
			t.Fatalf("window %v: argmax at %d, the loop's at %d", w, got, best)
		}
		a32 := []float32{float32(w[0]), float32(w[1]), 9, float32(w[2]), float32(w[3]), 9}
		if got := poolArg(a32, 0, 3, 2, 0, 0); got != best {
			t.Fatalf("float32 window %v: argmax at %d, the loop's at %d", w, got, best)
		}
	}
}
