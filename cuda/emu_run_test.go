package cuda

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// The kernels of kernels.cu run by the emulation harness (emu_test.go) on
// single ops, whole epochs, evaluation and the gather, against the CPU
// backend.

// segModes run a single op through the one-block kernel (with the
// largest and a small block) and through the grid kernel.
var segModes = []struct {
	name string
	lim  limits
}{
	{"seg1", limits{maxThreads: 1024, singleMax: 1 << 20, noGrid: true}},
	{"seg1-64", limits{maxThreads: 64, singleMax: 1 << 20, noGrid: true}},
	{"segn", limits{maxThreads: 1024, singleMax: 1}},
}

// TestEmuOps runs each op alone through both segment kernels (and a
// large column sum through its cuBLAS product with a ones vector), in both
// dtypes, at sizes that fill no block exactly.
func TestEmuOps(t *testing.T) {
	harness(t)
	r := rand.New(rand.NewPCG(3, 4))
	ops := []struct {
		op          graph.Op
		alpha, beta float64
	}{
		{graph.AddRow, 0, 0}, {graph.Add, 0, 0}, {graph.Sub, 0, 0}, {graph.Mul, 0, 0},
		{graph.Affine, -0.3, 0.25}, {graph.Sigmoid, 0, 0}, {graph.Square, 0, 0}, {graph.Update, 3, 1}, {graph.Update, 3, 0.9985}, {graph.XEnt, 0, 0}, {graph.Tanh, 0, 0}, {graph.Gate, 0, 0}, {graph.Gate, 0, 0.5}, {graph.Softmax, 0, 0}, {graph.NLL, 0, 0},
		{graph.SumRows, -3, 1}, {graph.SumRows, 0.5, 0}, {graph.SumAll, 0, 0},
	}
	covered := map[graph.Op]bool{}
	for _, o := range ops {
		covered[o.op] = true
	}
	for _, c := range shapedCases {
		covered[c.op] = true // TestEmuShapedOps
	}
	for _, op := range graph.Ops() {
		if op != graph.MatMul && !covered[op] {
			t.Errorf("op %v has a CUDA kernel case but no emulation test here", op)
		}
	}
	shapes := [][2]int{{1, 1}, {1, 7}, {10, 30}, {1, 1013}, {13, 77}, {300, 7}}
	for _, dt := range []graph.Dtype{graph.Float32, graph.Float64} {
		for _, o := range ops {
			for _, sh := range shapes {
				for _, mode := range segModes {
					name := fmt.Sprintf("%v/%v(α=%g,β=%g)/%dx%d/%s", dt, o.op, o.alpha, o.beta, sh[0], sh[1], mode.name)
					t.Run(name, func(t *testing.T) {
						p := oneOp(o.op, sh[0], sh[1], o.alpha, o.beta, dt)
						sc, err := newSchedule(p, mode.lim, 0)
						if err != nil {
							t.Fatal(err)
						}
						init := map[int][]float64{}
						for i, b := range p.Bufs {
							if b.Alias < 0 {
								init[i] = randn(r, b.Len(), 2)
							}
						}
						got, want := runBoth(t, p, sc, init)
						tol := tolerance(dt, 2e-6, 1e-14)
						if o.op == graph.SumAll {
							// A tree of partial sums against the CPU's running
							// sum: float64 rounding, a few ulps of the total
							// magnitude per thousand terms.
							tol = tolerance(dt, 2e-6, 1e-12)
						}
						near(t, "D", got, want, tol)
					})
				}
			}
		}
	}
}

// runBoth runs program p from init on the CPU backend and, as scheduled
// by sc, through the kernels; it returns the output buffer of each, the
// kernels' first.
func runBoth(t *testing.T, p *graph.Program, sc *schedule, init map[int][]float64) (kernels, cpu []float64) {
	t.Helper()
	mc := newCPU(p)
	for i, v := range init {
		mc.set(i, v)
	}
	mc.Run()
	s := newScript(p.Dtype)
	s.declare(sc, init, nil)
	s.launches(sc)
	s.line("dump", p.Output)
	return s.run(t).bufs[p.Output], mc.get(p.Output)
}

// randomSet is n random images, mostly background like MNIST's digits
// (dense noise would saturate every sigmoid), with random labels.
func randomSet(r *rand.Rand, n int) *mnist.Set {
	s := &mnist.Set{Images: make([]uint8, n*mnist.Pixels), Labels: make([]uint8, n)}
	for i := range s.Images {
		if r.IntN(5) == 0 {
			s.Images[i] = uint8(r.IntN(256))
		}
	}
	for i := range s.Labels {
		s.Labels[i] = uint8(r.IntN(10))
	}
	return s
}

// TestEmuEpoch trains one epoch (full batches and a short last one) the
// way the gpu build does: each program's own buffer table, parameters
// shared, the batch gathered by offset from the device-resident set, the
// offset advanced and every step's cost recorded by the epilogue. The
// parameters and the mean cost must match the CPU backend's epoch.
func TestEmuEpoch(t *testing.T) {
	harness(t)
	r := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		spec  network.Spec
		batch int
		n     int
	}{
		{network.Book([]int{784, 30, 10}), 10, 23},
		{network.Book([]int{784, 7, 10}), 1, 3},
		{network.Book([]int{784, 17, 9, 10}), 6, 15},
		{network.Book([]int{784, 100, 10}), 16, 32},
		{network.Book([]int{784, 10}), 4, 9},
		// Chapter 3: the cross-entropy with L2, tanh with the softmax
		// layer, ReLU (each op of the chapter in a whole epoch).
		{network.Spec{Arch: network.Arch{Sizes: []int{784, 30, 10}}, Objective: network.Objective{Cost: network.CrossEntropy, Lambda: 5}}, 10, 23},
		{network.Spec{Arch: network.Arch{Sizes: []int{784, 17, 9, 10}, Activation: network.Tanh}, Objective: network.Objective{Cost: network.LogLikelihood, Lambda: 1}}, 6, 15},
		{network.Spec{Arch: network.Arch{Sizes: []int{784, 12, 10}, Activation: network.ReLU}, Objective: network.Objective{Cost: network.CrossEntropy}}, 4, 9},
		// Chapter 6: a convolution and pool, then one with ReLU, a pool
		// leaving a border and network3's L2 term (col2im into the first).
		{layered(t, "conv:3x5x5,pool:2,fc:7,softmax:10", 0), 4, 9},
		{layered(t, "conv:4x5x5:relu,pool:2,conv:3x3x3:relu,pool:3,fc:8:relu,softmax:10", 0.1), 5, 12},
	}
	lims := []struct {
		name string
		lim  limits
	}{
		{"default", defaultLimits},
		{"small-blocks", limits{maxThreads: 64, singleMax: 100}},
		{"grids", limits{maxThreads: 1024, singleMax: 1}},
		{"one-block", limits{maxThreads: 256, singleMax: 1 << 20, noGrid: true}},
	}
	for _, c := range cases {
		for _, dt := range []graph.Dtype{graph.Float32, graph.Float64} {
			for _, l := range lims {
				t.Run(fmt.Sprintf("%v/batch=%d/n=%d/%v/%s", c.spec, c.batch, c.n, dt, l.name), func(t *testing.T) {
					testEmuEpoch(t, r, c.spec, c.batch, c.n, dt, l.lim)
				})
			}
		}
	}
}

// layered is a chapter 6 network of the given layers and network3's λ.
func layered(t *testing.T, layers string, lambda float64) network.Spec {
	t.Helper()
	ls, err := network.ParseLayers(layers)
	if err != nil {
		t.Fatal(err)
	}
	return network.Spec{Arch: network.Arch{Layers: ls}, Objective: network.Objective{Lambda: lambda}}.Norm()
}

func testEmuEpoch(t *testing.T, r *rand.Rand, spec network.Spec, bs, n int, dt graph.Dtype, lim limits) {
	set := randomSet(r, n)
	net, err := network.NewSpec(spec, r.Uint64(), network.Scaled)
	if err != nil {
		t.Fatal(err)
	}
	order := make([]int32, n)
	for i, j := range r.Perm(n) {
		order[i] = int32(j)
	}
	step := graph.Step{Eta: 3, N: n, Batch: bs}
	if spec.Norm().Cost != network.Quadratic {
		step.Eta = 0.5 // chapter 3's
	}
	cfg := train.Config{Spec: spec, TrainSize: n, BatchSize: bs, Eta: step.Eta, Dtype: dt}
	ref, err := cpu.Open(cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if err := ref.SetNetwork(net); err != nil {
		t.Fatal(err)
	}
	wantCost, err := ref.Epoch(context.Background(), order, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ref.Network()

	s := newScript(dt)
	s.set(set)
	ords := make([]string, n)
	for i, v := range order {
		ords[i] = strconv.Itoa(int(v))
	}
	s.line("order", strings.Join(ords, " "))
	s.line("offset", 0)
	steps := (n + bs - 1) / bs
	s.line("costs", steps)
	full, err := graph.Compile(spec, bs, dt, step)
	if err != nil {
		t.Fatal(err)
	}
	fullS, err := newSchedule(full, lim, bs)
	if err != nil {
		t.Fatal(err)
	}
	init := map[int][]float64{}
	for l := range full.Weights {
		init[full.Weights[l]] = net.Weights[l]
		init[full.Biases[l]] = net.Biases[l]
	}
	s.line("table", 0)
	s.declare(fullS, init, nil)
	for range n / bs {
		s.gather(full, true, true, 0)
		s.launches(fullS)
	}
	if rest := n % bs; rest > 0 {
		short, err := graph.Compile(spec, rest, dt, step)
		if err != nil {
			t.Fatal(err)
		}
		shortS, err := newSchedule(short, lim, bs)
		if err != nil {
			t.Fatal(err)
		}
		shared := map[int][2]int{}
		for l := range short.Weights {
			shared[short.Weights[l]] = [2]int{0, full.Weights[l]}
			shared[short.Biases[l]] = [2]int{0, full.Biases[l]}
		}
		s.line("table", 1)
		s.declare(shortS, nil, shared)
		s.gather(short, true, true, 0)
		s.launches(shortS)
		s.line("table", 0)
	}
	for l := range full.Weights {
		s.line("dump", full.Weights[l])
		s.line("dump", full.Biases[l])
	}
	s.line("state")
	got := s.run(t)

	tol := tolerance(dt, 2e-5, 1e-12)
	for l := range full.Weights {
		near(t, fmt.Sprintf("w%d", l+1), got.bufs[full.Weights[l]], want.Weights[l], tol)
		near(t, fmt.Sprintf("b%d", l+1), got.bufs[full.Biases[l]], want.Biases[l], tol)
	}
	if got.offset != int64(n) {
		t.Errorf("offset after the epoch %d, want %d", got.offset, n)
	}
	var total float64
	for j, c := range got.costs {
		total += c * float64(min(bs, n-j*bs))
	}
	near(t, "mean cost", []float64{total / float64(n)}, []float64{wantCost}, tol)
}

// TestEmuPredict runs evaluation as the gpu build does: the forward
// program in chunks gathered by base index (no order), then the argmax
// kernel, against the CPU backend's outputs and predictions.
func TestEmuPredict(t *testing.T) {
	harness(t)
	r := rand.New(rand.NewPCG(7, 8))
	for _, dt := range []graph.Dtype{graph.Float32, graph.Float64} {
		for _, c := range []struct {
			sizes     []int
			chunk, n  int
			lim       limits
			limitName string
		}{
			{[]int{784, 30, 10}, 50, 137, defaultLimits, "default"},
			{[]int{784, 16, 12, 10}, 7, 20, limits{maxThreads: 64, singleMax: 50}, "small"},
		} {
			t.Run(fmt.Sprintf("%v/%v/%s", dt, c.sizes, c.limitName), func(t *testing.T) {
				set := randomSet(r, c.n)
				net, _ := network.New(c.sizes, r.Uint64())
				s := newScript(dt)
				s.set(set)
				s.line("pred", c.n)
				wantPred := make([]uint8, c.n)
				var outs [][]float64
				table := 0
				for lo := 0; lo < c.n; lo += c.chunk {
					m := min(c.chunk, c.n-lo)
					p, err := graph.CompileForward(network.Book(c.sizes), m, dt)
					if err != nil {
						t.Fatal(err)
					}
					sc, err := newSchedule(p, c.lim, 0)
					if err != nil {
						t.Fatal(err)
					}
					init := map[int][]float64{}
					mc := newCPU(p)
					for l := range p.Weights {
						init[p.Weights[l]], init[p.Biases[l]] = net.Weights[l], net.Biases[l]
						mc.set(p.Weights[l], net.Weights[l])
						mc.set(p.Biases[l], net.Biases[l])
					}
					x := make([]float64, 0, m*mnist.Pixels)
					for i := lo; i < lo+m; i++ {
						for _, px := range set.Image(i) {
							x = append(x, float64(px)/255)
						}
					}
					mc.set(p.X, x)
					mc.Run()
					out := mc.get(p.Output)
					outs = append(outs, out)
					for i := 0; i < m; i++ {
						row := out[i*10 : i*10+10]
						wantPred[lo+i] = uint8(slices.Index(row, slices.Max(row)))
					}
					s.line("table", table)
					s.declare(sc, init, nil)
					s.gather(p, false, false, lo)
					s.launches(sc)
					grid, block := argmaxGeometry(m)
					s.line("argmax", grid, block, p.Output, m, lo, 1)
					s.line("dump", p.Output)
					table++
				}
				s.line("state")
				got := s.run(t)
				// The dumps come back by buffer id, the same in every chunk's
				// program: the last chunk's is what remains to compare.
				p, _ := graph.CompileForward(network.Book(c.sizes), c.n-(c.n-1)/c.chunk*c.chunk, dt)
				near(t, "last chunk's output", got.bufs[p.Output], outs[len(outs)-1], tolerance(dt, 1e-5, 1e-13))
				correct := 0
				for i, g := range got.pred {
					if g != wantPred[i] {
						t.Errorf("prediction %d = %d, CPU %d", i, g, wantPred[i])
					}
					if g == set.Labels[i] {
						correct++
					}
				}
				if got.correct != correct {
					t.Errorf("correct count %d, want %d", got.correct, correct)
				}
			})
		}
	}
}

// TestEmuGather compares the batch gather with a plain Go one, for an
// order with an offset and for plain base indexing.
func TestEmuGather(t *testing.T) {
	harness(t)
	r := rand.New(rand.NewPCG(9, 10))
	set := randomSet(r, 41)
	order := r.Perm(set.Len())
	for _, dt := range []graph.Dtype{graph.Float32, graph.Float64} {
		for _, c := range []struct {
			m, offset, base int
			withOrder, y    bool
		}{{1, 0, 0, true, true}, {7, 5, 3, true, true}, {13, 28, 0, true, false}, {40, 0, 1, false, true}, {3, 0, 38, false, false}} {
			t.Run(fmt.Sprintf("%v/%+v", dt, c), func(t *testing.T) {
				s := newScript(dt)
				s.set(set)
				ords := make([]string, len(order))
				for i, v := range order {
					ords[i] = strconv.Itoa(v)
				}
				s.line("order", strings.Join(ords, " "))
				s.line("offset", c.offset)
				s.line("buf", 0, c.m*mnist.Pixels)
				y := -1
				if c.y {
					y = 1
					s.line("buf", 1, c.m*network.OutputSize)
					s.line("data", 1, slices.Repeat([]float64{7}, c.m*network.OutputSize))
				}
				grid, block := gatherGeometry(c.m)
				s.line("gather", grid, block, 0, y, c.withOrder, c.withOrder, c.base, c.m)
				s.line("dump", 0)
				if c.y {
					s.line("dump", 1)
				}
				got := s.run(t)
				for r := 0; r < c.m; r++ {
					img := c.base + r
					if c.withOrder {
						img = order[c.base+c.offset+r]
					}
					for k, px := range set.Image(img) {
						want := float64(float32(px) / 255)
						if dt == graph.Float64 {
							want = float64(px) / 255
						}
						if g := got.bufs[0][r*mnist.Pixels+k]; g != want {
							t.Fatalf("X[%d,%d] = %v, want %v (image %d)", r, k, g, want, img)
						}
					}
					if c.y {
						for k := 0; k < 10; k++ {
							want := 0.0
							if k == int(set.Labels[img]) {
								want = 1
							}
							if g := got.bufs[1][r*10+k]; g != want {
								t.Fatalf("Y[%d,%d] = %v, want %v", r, k, g, want)
							}
						}
					}
				}
			})
		}
	}
}

// TestEmuArgmax checks ties go to the first index and NaN never wins, as
// in the CPU backend, and the count of correct predictions.
func TestEmuArgmax(t *testing.T) {
	harness(t)
	r := rand.New(rand.NewPCG(11, 12))
	for _, dt := range []graph.Dtype{graph.Float32, graph.Float64} {
		for _, m := range []int{1, 7, 300, 1013} {
			t.Run(fmt.Sprintf("%v/m=%d", dt, m), func(t *testing.T) {
				out := make([]float64, m*10)
				for i := range out {
					out[i] = float64(r.IntN(4)) / 4 // many ties
				}
				out[r.IntN(len(out))] = math.NaN()
				labels := make([]uint8, m)
				for i := range labels {
					labels[i] = uint8(r.IntN(10))
				}
				s := newScript(dt)
				s.line("labels", hex.EncodeToString(labels))
				s.line("pred", m)
				s.line("buf", 0, len(out))
				s.line("data", 0, out)
				grid, block := argmaxGeometry(m)
				s.line("argmax", grid, block, 0, m, 0, 1)
				s.line("state")
				got := s.run(t)
				correct := 0
				for i := 0; i < m; i++ {
					row := out[i*10 : i*10+10]
					best := 0
					for j, v := range row {
						if v > row[best] {
							best = j
						}
					}
					if got.pred[i] != uint8(best) {
						t.Fatalf("row %d %v: argmax %d, want %d", i, row, got.pred[i], best)
					}
					if best == int(labels[i]) {
						correct++
					}
				}
				if got.correct != correct {
					t.Errorf("correct %d, want %d", got.correct, correct)
				}
			})
		}
	}
}

// TestEmuOpDescLayout checks the C compiler lays OpDesc out as encodeOps does.
func TestEmuOpDescLayout(t *testing.T) {
	s := newScript(graph.Float32)
	s.line("sizeof")
	if got := s.run(t).sizeof; got != opDescSize {
		t.Fatalf("sizeof(OpDesc) = %d, encodeOps writes %d", got, opDescSize)
	}
}
