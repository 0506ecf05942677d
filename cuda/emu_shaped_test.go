package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/dropout"
)

// shapedCases are chapter 6's ops on small tensors whose sizes fill no
// block exactly: a 7×6 image (a pool of 2 leaves a border row), three maps,
// two images.
var shapedCases = []struct {
	op          graph.Op
	alpha, beta float64
	a, b, d     []int // B nil: the op reads none
	ties        bool  // values drawn from few levels, so windows hold equal maxima
}{
	{op: graph.Im2Col, a: []int{2, 3, 7, 6}, d: []int{2, 5, 4, 27}},
	{op: graph.Im2Col, a: []int{2, 1, 6, 6}, d: []int{2, 2, 2, 25}},
	{op: graph.Col2Im, a: []int{2, 5, 4, 27}, d: []int{2, 3, 7, 6}},
	{op: graph.Col2Im, a: []int{3, 2, 2, 25}, d: []int{3, 1, 6, 6}},
	{op: graph.Permute, alpha: 0, a: []int{2, 5, 4, 3}, d: []int{2, 3, 5, 4}},
	{op: graph.Permute, alpha: 1, a: []int{2, 3, 5, 4}, d: []int{2, 5, 4, 3}},
	{op: graph.MaxPool, alpha: 2, a: []int{2, 3, 7, 6}, d: []int{2, 3, 3, 3}},
	{op: graph.MaxPool, alpha: 2, a: []int{2, 3, 7, 6}, d: []int{2, 3, 3, 3}, ties: true},
	{op: graph.MaxPoolBack, alpha: 2, a: []int{2, 3, 3, 3}, b: []int{2, 3, 7, 6}, d: []int{2, 3, 7, 6}, ties: true},
	{op: graph.MaxPoolBack, alpha: 3, a: []int{2, 3, 2, 2}, b: []int{2, 3, 7, 6}, d: []int{2, 3, 7, 6}},
	{op: graph.AddMap, alpha: 20, a: []int{2, 3, 5, 4}, b: []int{3}, d: []int{2, 3, 5, 4}},
	{op: graph.SumInner, a: []int{3, 41}, d: []int{3, 1}},
	{op: graph.SumInner, a: []int{20, 1200}, d: []int{20, 1}},
	// Dropout masks from a step key (A), layers 0 and 5, p 0.5 and 0.2.
	{op: graph.Dropout, alpha: 0.5, a: []int{1, dropout.KeyWords}, d: []int{13, 77}},
	{op: graph.Dropout, alpha: 0.2, beta: 5, a: []int{1, dropout.KeyWords}, d: []int{10, 1000}},
}

// TestEmuShapedOps runs each of chapter 6's ops alone through both segment
// kernels, in both dtypes, against the CPU backend's kernel: bit for bit,
// since each element adds the same terms in the same order.
func TestEmuShapedOps(t *testing.T) {
	harness(t)
	r := rand.New(rand.NewPCG(5, 6))
	for _, dt := range []graph.Dtype{graph.Float32, graph.Float64} {
		for _, c := range shapedCases {
			for _, mode := range segModes {
				name := fmt.Sprintf("%v/%v(α=%g)/%v→%v/ties=%v/%s", dt, c.op, c.alpha, c.a, c.d, c.ties, mode.name)
				t.Run(name, func(t *testing.T) {
					p := &graph.Program{Dtype: dt, X: -1, Y: -1, Cost: -1, Batch: c.d[0]}
					buf := func(name string, dims []int, kind graph.BufKind) int {
						n := 1
						for _, x := range dims[1:] {
							n *= x
						}
						p.Bufs = append(p.Bufs, graph.Buf{Name: name, Rows: dims[0], Cols: n, Kind: kind, Alias: -1, Shape: dims})
						return len(p.Bufs) - 1
					}
					in := graph.Instr{Op: c.op, A: buf("A", c.a, graph.Input), Alpha: c.alpha, Beta: c.beta}
					if c.b != nil {
						in.B = buf("B", c.b, graph.Input)
					}
					in.Dst = buf("D", c.d, graph.Temp)
					p.Instrs, p.Output = []graph.Instr{in}, in.Dst
					sc, err := newSchedule(p, mode.lim, 0)
					if err != nil {
						t.Fatal(err)
					}
					init := map[int][]float64{}
					for i, b := range p.Bufs {
						v := randn(r, b.Len(), 2)
						if c.ties {
							for j := range v {
								v[j] = math.Round(v[j])
							}
						}
						init[i] = v
					}
					if c.op == graph.Dropout {
						key := make([]float64, dropout.KeyWords)
						dropout.SetKey(key, dropout.StepKey(r.Uint64(), r.Uint64()))
						init[in.A] = key
					}
					got, want := runBoth(t, p, sc, init)
					near(t, "D", got, want, 0)
				})
			}
		}
	}
}
