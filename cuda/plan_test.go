package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
)

// colMajorGEMM is BLAS's gemm on column-major matrices, as cuBLAS defines
// it, run on the plan's view of the row-major buffers.
func colMajorGEMM(g gemmCall, a, b, c []float64) {
	for j := 0; j < g.N; j++ {
		for i := 0; i < g.M; i++ {
			var s float64
			for l := 0; l < g.K; l++ {
				var x, y float64
				if g.TransA {
					x = a[l+i*g.LdA]
				} else {
					x = a[i+l*g.LdA]
				}
				if g.TransB {
					y = b[j+l*g.LdB]
				} else {
					y = b[l+j*g.LdB]
				}
				s += x * y
			}
			if g.Beta == 0 {
				c[i+j*g.LdC] = g.Alpha * s
			} else {
				c[i+j*g.LdC] = g.Alpha*s + g.Beta*c[i+j*g.LdC]
			}
		}
	}
}

// TestPlanGEMM checks the row-major to column-major mapping: cuBLAS's
// column-major product on the planned operands must leave in the
// destination what a row-major triple loop computes, for every transpose
// combination and both betas.
func TestPlanGEMM(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, dims := range [][3]int{{1, 1, 1}, {3, 5, 7}, {10, 30, 784}, {7, 1, 13}, {1, 9, 4}} {
		m, n, k := dims[0], dims[1], dims[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []float64{0, 1} {
					t.Run(fmt.Sprintf("m=%d/n=%d/k=%d/ta=%v/tb=%v/beta=%v", m, n, k, ta, tb, beta), func(t *testing.T) {
						shape := func(rows, cols int, trans bool) (int, int) {
							if trans {
								return cols, rows
							}
							return rows, cols
						}
						ar, ac := shape(m, k, ta)
						br, bc := shape(k, n, tb)
						p := &graph.Program{Bufs: []graph.Buf{
							{Name: "A", Rows: ar, Cols: ac, Alias: -1},
							{Name: "B", Rows: br, Cols: bc, Alias: -1},
							{Name: "C", Rows: m, Cols: n, Alias: -1},
						}}
						in := graph.Instr{Op: graph.MatMul, Dst: 2, A: 0, B: 1, TransA: ta, TransB: tb, Alpha: -1.5, Beta: beta}
						p.Instrs = []graph.Instr{in}
						if err := p.Validate(); err != nil {
							t.Fatal(err)
						}
						bufs := make([][]float64, 3)
						for i, b := range p.Bufs {
							bufs[i] = make([]float64, b.Len())
							for j := range bufs[i] {
								bufs[i][j] = r.NormFloat64()
							}
						}
						at := func(i, l int) float64 { // op(A)[i,l], row-major
							if ta {
								return bufs[0][l*ac+i]
							}
							return bufs[0][i*ac+l]
						}
						bt := func(l, j int) float64 {
							if tb {
								return bufs[1][j*bc+l]
							}
							return bufs[1][l*bc+j]
						}
						want := slices.Clone(bufs[2])
						for i := 0; i < m; i++ {
							for j := 0; j < n; j++ {
								var s float64
								for l := 0; l < k; l++ {
									s += at(i, l) * bt(l, j)
								}
								want[i*n+j] = in.Alpha*s + beta*want[i*n+j]
							}
						}
						g := planGEMM(p, in)
						if g.Dst != 2 {
							t.Fatalf("plan writes buffer %d, want C", g.Dst)
						}
						// cuBLAS's own argument checks.
						rowsA, rowsB := g.M, g.K
						if g.TransA {
							rowsA = g.K
						}
						if g.TransB {
							rowsB = g.N
						}
						if g.LdA < max(1, rowsA) || g.LdB < max(1, rowsB) || g.LdC < max(1, g.M) {
							t.Fatalf("leading dimensions %d, %d, %d too small for %+v", g.LdA, g.LdB, g.LdC, g)
						}
						got := slices.Clone(bufs[2])
						colMajorGEMM(g, bufs[g.First], bufs[g.Second], got)
						for i := range want {
							if math.Abs(got[i]-want[i]) > 1e-12*max(1, math.Abs(want[i])) {
								t.Fatalf("C[%d] = %v, want %v (plan %+v)", i, got[i], want[i], g)
							}
						}
					})
				}
			}
		}
	}
}

// TestScheduleBookNetwork pins the launch count of the book's step, the
// number the performance target hangs on, and checks every plan of the
// programs the backend uses keeps the order of dependent instructions.
func TestScheduleBookNetwork(t *testing.T) {
	p, err := graph.Compile(network.Book([]int{784, 30, 10}), 10, graph.Float32, graph.Step{Eta: 3})
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSchedule(p, defaultLimits, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + s.String())
	gemms := 0
	for _, l := range s.launches {
		if l.gemm != nil {
			gemms++
		}
	}
	if gemms != 5 || len(s.launches) != 8 {
		t.Errorf("%d launches (%d products), want 8 (5): the element-wise chains are not fused as before", len(s.launches), gemms)
	}
}

// TestScheduleOrder checks, for many programs and limits, that every
// instruction runs exactly once and after everything it depends on, and
// that a grid segment holds only element-wise ops whose dependencies
// inside the segment are element by element.
func TestScheduleOrder(t *testing.T) {
	for _, c := range []struct {
		sizes []int
		m     int
	}{{[]int{784, 30, 10}, 10}, {[]int{784, 10}, 1}, {[]int{784, 17, 9, 10}, 6}, {[]int{784, 1024, 1024, 10}, 256}, {[]int{784, 100, 10}, 500}} {
		for _, lim := range []limits{defaultLimits, {maxThreads: 64, singleMax: 100}, {maxThreads: 1024, singleMax: 1}, {maxThreads: 128, singleMax: 1 << 20, noGrid: true}} {
			for _, train := range []bool{true, false} {
				var p *graph.Program
				var err error
				if train {
					p, err = graph.Compile(network.Book(c.sizes), c.m, graph.Float32, graph.Step{Eta: 3})
				} else {
					p, err = graph.CompileForward(network.Book(c.sizes), c.m, graph.Float32)
				}
				if err != nil {
					t.Fatal(err)
				}
				s, err := newSchedule(p, lim, c.m)
				if err != nil {
					t.Fatal(err)
				}
				checkSchedule(t, fmt.Sprintf("%v/m=%d/%+v/train=%v", c.sizes, c.m, lim, train), s, lim)
			}
		}
	}
}

func checkSchedule(t *testing.T, name string, s *schedule, lim limits) {
	t.Helper()
	p := s.prog
	pos := map[int][2]int{} // instruction → launch, position in it
	for li, l := range s.launches {
		for k, i := range l.instrs {
			if _, dup := pos[i]; dup {
				t.Fatalf("%s: instruction %d scheduled twice", name, i)
			}
			pos[i] = [2]int{li, k}
		}
		if l.gemm == nil {
			if len(l.ops) != len(l.instrs) {
				t.Fatalf("%s: launch %d has %d ops for %d instructions", name, li, len(l.ops), len(l.instrs))
			}
			if l.single && (l.grid != 1 || l.block > lim.maxThreads || l.block%32 != 0) {
				t.Fatalf("%s: one-block segment launched %d×%d", name, l.grid, l.block)
			}
			if !l.single && (lim.noGrid || l.block > segnThreads || l.block%32 != 0 || l.grid < 1) {
				t.Fatalf("%s: grid segment launched %d×%d", name, l.grid, l.block)
			}
		}
	}
	n := len(p.Instrs)
	if s.batchSize > 0 {
		n++
	}
	if len(pos) != n {
		t.Fatalf("%s: %d of %d instructions scheduled", name, len(pos), n)
	}
	storage := func(b int) int { return p.Storage(b) }
	rw := func(i int) (r, w []int) {
		if i == len(p.Instrs) {
			return []int{storage(p.Cost)}, nil
		}
		in := p.Instrs[i]
		for _, b := range in.Reads() {
			r = append(r, storage(b))
		}
		return r, []int{storage(in.Dst)}
	}
	for j := 0; j < n; j++ {
		rj, wj := rw(j)
		for i := 0; i < j; i++ {
			ri, wi := rw(i)
			if !overlaps(wi, rj) && !overlaps(ri, wj) && !overlaps(wi, wj) {
				continue
			}
			a, b := pos[i], pos[j]
			if a[0] > b[0] || (a[0] == b[0] && a[1] > b[1]) {
				t.Fatalf("%s: instruction %d runs before %d, which it depends on", name, j, i)
			}
			if a[0] == b[0] && !s.launches[a[0]].single {
				for _, x := range []int{i, j} {
					switch p.Instrs[x].Op {
					case graph.SumRows, graph.SumAll, graph.MatMul:
						t.Fatalf("%s: %v in a grid segment", name, p.Instrs[x].Op)
					}
				}
				if in := p.Instrs[j]; in.Op == graph.AddRow && slices.Contains(wi, storage(in.B)) {
					t.Fatalf("%s: AddRow reads a row written in its grid segment", name)
				}
				if in := p.Instrs[i]; in.Op == graph.AddRow && slices.Contains(wj, storage(in.B)) {
					t.Fatalf("%s: a grid segment overwrites a row AddRow reads", name)
				}
			}
		}
	}
}

func TestEncodeOps(t *testing.T) {
	ops := []opDesc{{Op: 6, Dst: 1, A: 2, B: -1, N: 300, Cols: 30, Rows: 10, Alpha: -3, Beta: 1}, {Op: opEpilogue, N: 7}}
	raw := encodeOps(ops)
	if len(raw) != len(ops)*opDescSize {
		t.Fatalf("%d bytes for %d ops", len(raw), len(ops))
	}
	le := binary.LittleEndian
	if int64(le.Uint64(raw[24:])) != -1 || le.Uint64(raw[32:]) != 300 || math.Float64frombits(le.Uint64(raw[56:])) != -3 ||
		le.Uint64(raw[72:]) != opEpilogue || le.Uint64(raw[72+32:]) != 7 {
		t.Fatalf("fields out of place: % x", raw)
	}
}

func TestGeometry(t *testing.T) {
	for _, n := range []int{1, 7, 31, 32, 33, 300, 1013, 1 << 20, 1 << 28} {
		grid, block := gridFor(n, segnThreads)
		if block%32 != 0 || block > segnThreads || grid < 1 || grid > maxGrid {
			t.Errorf("gridFor(%d) = %d×%d", n, grid, block)
		}
		if n <= maxGrid*segnThreads && grid*block < n {
			t.Errorf("gridFor(%d) = %d×%d covers too few", n, grid, block)
		}
		for _, lim := range []int{32, 64, 1000, 1024} {
			if b := oneBlock(n, lim); b%32 != 0 || b > lim || b < 32 {
				t.Errorf("oneBlock(%d, %d) = %d", n, lim, b)
			}
		}
	}
	if g, b := gatherGeometry(10); g*b < 10*network.InputSize {
		t.Errorf("gather of 10 images: %d×%d threads", g, b)
	}
}

// TestScheduleLayers: in a program of chapter 6's layers, each op that
// reads its operands at other indices than the element it writes (every
// shaped op: im2col's patches, a pool's window, the dropout key) runs in a
// launch after the one that wrote those operands, in every grid segment;
// only a one-block segment, with its barrier after each op, may hold both.
func TestScheduleLayers(t *testing.T) {
	layers, err := network.ParseLayers("conv:2x5x5:relu,pool:2,conv:3x3x3,pool:2,fc:3:dropout=0.5,softmax:10")
	if err != nil {
		t.Fatal(err)
	}
	spec := network.Spec{Arch: network.Arch{Layers: layers}}.Norm()
	p, err := graph.Compile(spec, 4, graph.Float64, graph.Step{Eta: 0.1, N: 8, Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, lim := range []limits{defaultLimits, {maxThreads: 1024, singleMax: 1}} {
		s, err := newSchedule(p, lim, 4)
		if err != nil {
			t.Fatal(err)
		}
		shaped := 0
		for _, l := range s.launches {
			if l.gemm != nil || l.single {
				continue
			}
			written := map[int]bool{}
			for _, i := range l.instrs {
				in := p.Instrs[i]
				if in.Op.Def().Form >= graph.FormIm2Col {
					shaped++
					for _, r := range in.Reads() {
						if written[p.Storage(r)] {
							t.Errorf("%v reads %s in the grid segment that wrote it:\n%v", in.Op, p.Bufs[r].Name, s)
						}
					}
				}
				written[p.Storage(in.Dst)] = true
			}
		}
		if lim.singleMax == 1 && shaped == 0 {
			t.Errorf("no shaped op ran in a grid segment: the test checks nothing\n%v", s)
		}
	}
}
