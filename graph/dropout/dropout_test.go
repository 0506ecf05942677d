package dropout

import (
	"math"
	"testing"
)

// SplitMix64's published outputs from state 0 (Vigna's reference
// splitmix64.c): the generator's first values are mix(γ·k) for k = 0, 1, 2.
func TestMixIsSplitMix64(t *testing.T) {
	const gamma = 0x9e3779b97f4a7c15
	for k, want := range []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f} {
		if got := mix(uint64(k) * gamma); got != want {
			t.Errorf("output %d: %#x, want %#x", k, got, want)
		}
	}
}

// TestKeepRate: over a million units the share kept is within five
// standard deviations of 1 − p, for each p; units, steps, layers and seeds
// each change the mask.
func TestKeepRate(t *testing.T) {
	const n = 1 << 20
	for _, p := range []float64{0, 0.1, 0.5, 0.9} {
		kept := 0
		th := Threshold(p)
		for i := range n {
			if Keep(7, uint64(i>>12), 3, i&4095, th) {
				kept++
			}
		}
		sd := math.Sqrt(n * p * (1 - p))
		if d := math.Abs(float64(kept) - n*(1-p)); d > 5*sd+1e-9 {
			t.Errorf("p %g: kept %d of %d, %.1f standard deviations from %g", p, kept, n, d/sd, n*(1-p))
		}
	}
	mask := func(seed, step uint64, layer int) []float64 {
		m := make([]float64, 256)
		Mask(m, seed, step, layer, 0.5)
		return m
	}
	base := mask(1, 2, 3)
	for name, other := range map[string][]float64{"seed": mask(2, 2, 3), "step": mask(1, 3, 3), "layer": mask(1, 2, 4)} {
		same := 0
		for i := range base {
			if base[i] == other[i] {
				same++
			}
		}
		if same > 160 || same < 96 { // about half agree by chance
			t.Errorf("another %s: %d of 256 units agree, want about 128", name, same)
		}
	}
	again := mask(1, 2, 3)
	for i := range base {
		if base[i] != again[i] {
			t.Fatal("the same key drew another mask")
		}
	}
}
