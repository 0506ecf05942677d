package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph"
)

// TestPatchGrads: each convolution's patch gradient is planned fused with
// the col2im after it, and the fused step's input gradient is the
// program's two instructions computed plainly: the product as a triple
// loop over the permute's NHWC gradient (itself the op table's permute),
// then the op table's col2im; on one core and on two, for the book's
// second convolution and for odd sizes (two maps, a 3×3 filter).
func TestPatchGrads(t *testing.T) {
	for _, layers := range []string{
		"conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:100:relu,softmax:10",
		"conv:3x5x5,conv:2x3x3:relu,pool:3,fc:7,softmax:10",
	} {
		for _, workers := range []int{1, 2} {
			p, err := graph.Compile(layersSpec(t, layers, 0.1), 10, graph.Float64, graph.Step{Eta: 0.1, N: 1000, Batch: 10})
			if err != nil {
				t.Fatal(err)
			}
			m := NewMachine[float64](p, workers)
			m.plan()
			r := rand.New(rand.NewPCG(7, 11))
			for i := range m.bufs {
				copy(m.bufs[i], randSlice(r, len(m.bufs[i])))
			}
			fused := 0
			for i, in := range p.Instrs {
				if in.Op != graph.Col2Im {
					continue
				}
				if m.steps[i-1].grads == nil || !m.steps[i].skip {
					t.Fatalf("%s: col2im %d not fused with the product before it", layers, i)
				}
				fused++
				mm := p.Instrs[i-1]
				m.runRange(i-1, i)
				got := m.bufs[in.Dst]
				want := plainPatchGrads(p, m.bufs, mm, in)
				for k := range want {
					if math.Abs(got[k]-want[k]) > 1e-12*max(1, math.Abs(want[k])) {
						t.Fatalf("%s, %d workers: input gradient %d is %v, the plain product and col2im give %v", layers, workers, k, got[k], want[k])
					}
				}
			}
			m.Close()
			if fused != 1 {
				t.Fatalf("%s: %d col2ims, want 1 (the second convolution's)", layers, fused)
			}
		}
	}
}

// plainPatchGrads computes col2im(A·B) for the product mm and the col2im
// ci that reads it, A being the NHWC gradient the program's permute
// would have written (the machine reads its NCHW input in place).
func plainPatchGrads(p *graph.Program, bufs [][]float64, mm, ci graph.Instr) []float64 {
	a := bufs[mm.A]
	for _, pe := range p.Instrs {
		if pe.Op == graph.Permute && p.Storage(pe.Dst) == p.Storage(mm.A) {
			a = make([]float64, len(bufs[pe.Dst]))
			graph.Permute.Def().Shaped64(a, bufs[pe.A], nil, p.InstrShapes(pe), pe.Alpha, 0)
		}
	}
	rows, cols, k := p.MatMulDims(mm)
	b := bufs[mm.B]
	prod := make([]float64, rows*cols)
	for i := range rows {
		for j := range cols {
			var s float64
			for t := range k {
				s += a[i*k+t] * b[t*cols+j]
			}
			prod[i*cols+j] = mm.Alpha * s
		}
	}
	d := make([]float64, len(bufs[ci.Dst]))
	graph.Col2Im.Def().Shaped64(d, prod, nil, p.InstrShapes(ci), 0, 0)
	return d
}

// TestElemSplit: the element-wise ops of chapter 6's maps (ReLU's gate
// and product, a map's bias, σ) are split over the pool, and each split
// step writes what the op table's kernel writes over the whole buffers,
// bit for bit, in both dtypes.
func TestElemSplit(t *testing.T) {
	testElemSplit[float32](t, graph.Float32)
	testElemSplit[float64](t, graph.Float64)
}

func testElemSplit[T Float](t *testing.T, dt graph.Dtype) {
	for _, layers := range []string{
		"conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:100:relu,softmax:10",
		"conv:20x5x5,pool:2,fc:100,softmax:10",
	} {
		p, err := graph.Compile(layersSpec(t, layers, 0.1), 10, dt, graph.Step{Eta: 0.1, N: 1000, Batch: 10})
		if err != nil {
			t.Fatal(err)
		}
		m := NewMachine[T](p, 2)
		m.plan()
		r := rand.New(rand.NewPCG(3, 4))
		split := map[graph.Op]bool{}
		for i, in := range p.Instrs {
			s := &m.steps[i]
			if s.elem == nil {
				continue
			}
			split[in.Op] = true
			for j := range m.bufs {
				copy(m.bufs[j], conv[T](randSlice(r, len(m.bufs[j]))))
			}
			want := slices.Clone(s.d)
			var b []T
			if s.b != nil {
				b = slices.Clone(s.b)
			}
			k := s.kernel
			if in.Op != graph.Sigmoid {
				k = kernel[T](in.Op.Def())
			}
			k(want, slices.Clone(s.a), b, s.alpha, s.beta)
			m.runRange(i, i+1)
			for x := range want {
				if s.d[x] != want[x] && !(s.d[x] != s.d[x] && want[x] != want[x]) {
					t.Fatalf("%s %v: %v step %d element %d is %v, the whole kernel gives %v", layers, dt, in.Op, i, x, s.d[x], want[x])
				}
			}
		}
		m.Close()
		wantOps := []graph.Op{graph.AddMap, graph.Mul}
		if strings.Contains(layers, "relu") {
			wantOps = append(wantOps, graph.Gate)
		} else {
			wantOps = append(wantOps, graph.Sigmoid)
		}
		for _, op := range wantOps {
			if !split[op] {
				t.Errorf("%s %v: no %v step split over the pool (split: %v)", layers, dt, op, split)
			}
		}
	}
}
