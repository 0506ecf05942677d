package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gputrain/gputrain/graph"
)

// TestMaxPool32: the machine's float32 max-pooling, forward and backward
// (the AVX-512 kernels over row pairs where the CPU has them), writes what
// the op table's kernels write, bit for bit (signed zeros and NaNs told
// apart), for the book's pools (24×24 and 8×8 maps) and for every width
// around the kernels' eight windows, a map of odd width or height, inputs
// drawn from few levels (ties), signed zeros (windows of 0s and −0s),
// infinities, and NaNs in a
// few windows.
func TestMaxPool32(t *testing.T) {
	fwd, back := graph.MaxPool.Def().Shaped32, graph.MaxPoolBack.Def().Shaped32
	r := rand.New(rand.NewPCG(9, 10))
	type shape struct{ m, c, h, w, p int }
	shapes := []shape{{10, 20, 24, 24, 2}, {10, 40, 8, 8, 2}, {2, 3, 7, 6, 2}, {1, 2, 6, 7, 2}, {2, 1, 9, 9, 3}}
	for ow := 1; ow <= 19; ow++ {
		shapes = append(shapes, shape{2, 2, 4, 2 * ow, 2})
	}
	for _, sh := range shapes {
		for _, kind := range []string{"random", "ties", "specials", "zeros", "nan"} {
			t.Run(fmt.Sprintf("%+v/%s", sh, kind), func(t *testing.T) {
				oh, ow := sh.h/sh.p, sh.w/sh.p
				s := graph.Shapes{D: []int{sh.m, sh.c, sh.h, sh.w}, A: []int{sh.m, sh.c, oh, ow}, B: []int{sh.m, sh.c, sh.h, sh.w}}
				b := make([]float32, sh.m*sh.c*sh.h*sh.w)
				g := make([]float32, sh.m*sh.c*oh*ow)
				specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 1, -1}
				for i := range b {
					switch kind {
					case "ties":
						b[i] = float32(r.IntN(3))
					case "specials":
						b[i] = specials[r.IntN(len(specials))]
					case "zeros": // windows whose largest is 0 or −0, or both
						b[i] = specials[[]int{0, 1, 1, 5}[r.IntN(4)]]
					default:
						b[i] = float32(r.NormFloat64())
					}
				}
				if kind == "nan" {
					for range 3 {
						b[r.IntN(len(b))] = float32(math.NaN())
					}
				}
				for i := range g {
					g[i] = float32(r.NormFloat64())
				}
				g[0] = float32(math.Copysign(0, -1))
				// Forward: the pooled maps; backward: the inputs' gradient.
				pooledWant, pooledGot := filled(len(g)), filled(len(g))
				fwd(pooledWant, b, nil, graph.Shapes{D: s.A, A: s.D}, float32(sh.p), 0)
				maxPool32(pooledGot, b, nil, graph.Shapes{D: s.A, A: s.D}, float32(sh.p), 0)
				sameBits(t, "pooled", pooledGot, pooledWant)
				want, got := filled(len(b)), filled(len(b))
				back(want, g, b, s, float32(sh.p), 0)
				maxPoolBack32(got, g, b, s, float32(sh.p), 0)
				sameBits(t, "gradient", got, want)
			})
		}
	}
}

// filled is n values that every kernel must overwrite.
func filled(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 7
	}
	return s
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s element %d: %v, the op table's kernel gives %v", what, i, got[i], want[i])
		}
	}
}
