package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gputrain/gputrain/graph"
)

// TestIm2colT: the transposed patches are the op table's im2col (the
// reference every backend's im2col is checked against) with each image's
// positions and taps swapped, value for value, for the book's first
// convolution and for odd sizes (several maps, a 3×3 filter, output rows
// not a multiple of the copy's eight).
func TestIm2colT(t *testing.T) {
	ref := graph.Im2Col.Def().Shaped64
	for _, c := range []struct{ images, maps, h, w, f int }{
		{2, 1, 28, 28, 5},
		{3, 2, 9, 13, 3},
		{1, 3, 5, 5, 5},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			oh, ow, taps := c.h-c.f+1, c.w-c.f+1, c.maps*c.f*c.f
			s := graph.Shapes{D: []int{c.images, oh, ow, taps}, A: []int{c.images, c.maps, c.h, c.w}}
			a := randSlice(rand.New(rand.NewPCG(3, 5)), c.images*c.maps*c.h*c.w)
			cols := make([]float64, c.images*oh*ow*taps)
			ref(cols, a, nil, s, 0, 0)
			colsT := make([]float64, len(cols))
			im2colT(colsT, a, s)
			hw := oh * ow
			for n := range c.images {
				for p := range hw {
					for k := range taps {
						if got, want := colsT[(n*taps+k)*hw+p], cols[(n*hw+p)*taps+k]; got != want {
							t.Fatalf("image %d tap %d position %d: %v, im2col has %v", n, k, p, got, want)
						}
					}
				}
			}
		})
	}
}

// TestTransposedColsPlanned: the machine takes the transposed patches
// where a convolution's patches are shorter than its maps (the first
// convolution of chapter 6's networks, and both of a network without a
// pool between them) and leaves the rest as the program has them, and
// every im2col runs inside its forward product, image by image; the
// networks' results under these plans are TestLayersMatchNetwork3's and
// TestLayersProgramMatchesTapeMachine's.
func TestTransposedColsPlanned(t *testing.T) {
	for _, c := range []struct {
		layers string
		want   []bool // per convolution, in order: transposed or not
	}{
		{"conv:20x5x5,pool:2,fc:100,softmax:10", []bool{true}},
		{"conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:100:relu,softmax:10", []bool{true, false}},
		{"conv:3x5x5,conv:2x3x3:relu,pool:3,fc:7,softmax:10", []bool{true, true}},
	} {
		t.Run(c.layers, func(t *testing.T) {
			p, err := graph.Compile(layersSpec(t, c.layers, 0.1), 10, graph.Float64, graph.Step{Eta: 0.1, N: 1000, Batch: 10})
			if err != nil {
				t.Fatal(err)
			}
			m := NewMachine[float64](p, 2)
			defer m.Close()
			m.plan()
			var got []bool
			grads := 0
			for i, in := range p.Instrs {
				s := &m.steps[i]
				if s.cols != nil {
					grads++
				}
				if in.Op != graph.Im2Col {
					continue
				}
				if !s.skip || m.steps[i+1].permuted == nil || m.steps[i+1].permuted.patches == nil {
					t.Errorf("im2col %d not fused into the forward product after it", i)
				}
				// The forward product that reads these patches.
				for j := i + 1; j < len(p.Instrs); j++ {
					if pp := m.steps[j].permuted; pp != nil && p.Storage(p.Instrs[j].A) == p.Storage(in.Dst) {
						got = append(got, !pp.images[0].transB)
						break
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("transposed patches per convolution: %v, want %v", got, c.want)
			}
			want := 0
			for _, tr := range c.want {
				if tr {
					want++
				}
			}
			if grads != want {
				t.Fatalf("%d weight gradients over transposed patches, want %d", grads, want)
			}
		})
	}
}
