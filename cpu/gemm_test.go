package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
)

// refGEMM is the textbook triple loop over op(A)·op(B), in float64.
func refGEMM(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for t := 0; t < k; t++ {
				var av, bv float64
				if transA {
					av = a[t*lda+i]
				} else {
					av = a[i*lda+t]
				}
				if transB {
					bv = b[j*ldb+t]
				} else {
					bv = b[t*ldb+j]
				}
				s += av * bv
			}
			c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
		}
	}
}

func randSlice(r *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = r.Float64()*2 - 1
	}
	return s
}

func conv[T Float](s []float64) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = T(v)
	}
	return out
}

// TestGEMM checks every transpose case, odd sizes that leave SIMD tails,
// β of 0, 1 and other, on one core and split across workers, against refGEMM.
func TestGEMM(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {10, 30, 784}, {30, 784, 10}, {7, 33, 17}, {10, 10, 30}, {64, 129, 65}, {5, 1000, 3}, {4, 20, 300},
		{40, 100, 200},  // wide, but enough rows to split a dot-form product by rows
		{9, 40, 600},    // k longer than axpyMaxK, taken in pieces
		{100, 20, 1000}, // A·Bᵀ in more than one tile of A's rows
	}
	for _, s := range shapes {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []float64{0, 1, 0.5} {
					for _, workers := range []int{1, 2, 3} {
						name := fmt.Sprintf("%v/tA=%v/tB=%v/beta=%v/w=%d", s, ta, tb, beta, workers)
						t.Run(name, func(t *testing.T) {
							checkGEMM[float32](t, r, s, ta, tb, beta, workers, 1e-5)
							checkGEMM[float64](t, r, s, ta, tb, beta, workers, 1e-12)
						})
					}
				}
			}
		}
	}
}

func checkGEMM[T Float](t *testing.T, r *rand.Rand, s [3]int, ta, tb bool, beta float64, workers int, tol float64) {
	m, n, k := s[0], s[1], s[2]
	lda, ldb := k, n
	if ta {
		lda = m
	}
	if tb {
		ldb = k
	}
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m*n)
	want := append([]float64(nil), c...)
	refGEMM(ta, tb, m, n, k, -0.7, a, lda, b, ldb, beta, want, n)
	g := gemm[T]{transA: ta, transB: tb, m: m, n: n, k: k, alpha: -0.7, beta: T(beta),
		a: conv[T](a), lda: lda, b: conv[T](b), ldb: ldb, c: conv[T](c), ldc: n}
	var p *pool
	if workers > 1 {
		p = newPool(workers)
		defer p.close()
	}
	for range 2 { // a pool must be reusable
		g.c = conv[T](c)
		g.plan(p)
		g.run(p)
		for i := range want {
			scale := math.Max(1, math.Abs(want[i]))
			if d := math.Abs(float64(g.c[i])-want[i]) / scale; d > tol*float64(k) {
				t.Fatalf("c[%d] = %v, want %v (rel diff %g)", i, g.c[i], want[i], d)
			}
		}
	}
}

// TestTilingKeepsResults: a dot-form product computed a tile of rows at a
// time equals, bit for bit, the same product computed in one pass.
func TestTilingKeepsResults(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m, n, k := 150, 21, 1000 // several tiles, the last one short
	a, b := conv[float32](randSlice(r, m*k)), conv[float32](randSlice(r, n*k))
	tiled := gemm[float32]{transB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: k, c: make([]float32, m*n), ldc: n}
	whole := tiled
	whole.c = make([]float32, m*n)
	if rows := tileBytes / (4 * k); rows >= m {
		t.Fatalf("a tile holds %d rows: the product must span several", rows)
	}
	tiled.block(0, m, 0, n)
	whole.dotForm(0, m, 0, n)
	for i := range whole.c {
		if math.Float32bits(tiled.c[i]) != math.Float32bits(whole.c[i]) {
			t.Fatalf("c[%d] = %v tiled, %v in one pass", i, tiled.c[i], whole.c[i])
		}
	}
}

// TestDotTenKeepsResults: dotForm's ten-by-four blocks, whose last rows
// and columns overlap the blocks before them, give every element of C the
// bits the four-row blocks give it, β applied once, in both dtypes; with
// α 1 and β 0 the blocks that overlap none go straight into C.
func TestDotTenKeepsResults(t *testing.T) {
	for _, c := range [][3]int{{10, 30, 784}, {13, 7, 64}, {25, 9, 40}, {100, 30, 784}, {10, 4, 8}, {11, 5, 16}, {12, 200, 784}, {10, 10, 30}, {13, 7, 5}, {21, 9, 1}} { // {12, 200, 784} spans tiles of B; the last three leave tails
		checkDotTen[float32](t, c[0], c[1], c[2])
		checkDotTen[float64](t, c[0], c[1], c[2])
	}
}

func checkDotTen[T Float](t *testing.T, m, n, k int) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(m), uint64(n*k)))
	for _, ab := range [][2]T{{0.75, 0}, {0.75, 0.5}, {1, 0}} { // α 1, β 0: blocks straight into C
		alpha, beta := ab[0], ab[1]
		a, b, c := conv[T](randSlice(r, m*(k+3))), conv[T](randSlice(r, n*(k+1))), conv[T](randSlice(r, m*(n+2)))
		ten := gemm[T]{transB: true, m: m, n: n, k: k, alpha: alpha, beta: beta, a: a, lda: k + 3, b: b, ldb: k + 1, c: slices.Clone(c), ldc: n + 2}
		four := ten
		four.c = slices.Clone(c)
		ten.dotForm(0, m, 0, n)
		four.dotBlocks(0, m, 0, n)
		for i := range c {
			if !same(ten.c[i], four.c[i]) {
				t.Fatalf("%T %dx%dx%d α=%v β=%v: c[%d] = %v in blocks of ten, %v in blocks of four", c[0], m, n, k, alpha, beta, i, ten.c[i], four.c[i])
			}
		}
	}
}

// TestStepAllocatesNothing: a training step makes no garbage, so memory
// stays flat over a long run.
func TestStepAllocatesNothing(t *testing.T) {
	t.Run("float32", func(t *testing.T) { checkNoAllocs[float32](t, graph.Float32) })
	t.Run("float64", func(t *testing.T) { checkNoAllocs[float64](t, graph.Float64) })
}

func checkNoAllocs[T Float](t *testing.T, dt graph.Dtype) {
	p, err := graph.Compile(network.Book([]int{784, 30, 10}), 10, dt, graph.Step{Eta: 3})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMachine[T](p, 2)
	defer m.Close()
	m.Run()
	if n := testing.AllocsPerRun(100, m.Run); n != 0 {
		t.Fatalf("%v allocations a step", n)
	}
}

// TestWorkersDoNotChangeResults: splitting products, σ and the shaped
// kernels (by images) over cores changes no bit of the result, at sizes
// where every instruction that can split does: a wide fully connected
// layer, hidden layers whose weight updates split by rows at batch 10,
// and two convolutions whose weight gradients are too narrow for a split
// by columns.
func TestWorkersDoNotChangeResults(t *testing.T) {
	relu := "conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:100:relu,softmax:10"
	for _, c := range []struct {
		name   string
		spec   network.Spec
		batch  int
		lambda float64
	}{
		{"[784,1000,10]", network.Book([]int{784, 1000, 10}), 40, 0},
		{"[784,100,10] at batch 10", network.Book([]int{784, 100, 10}), 10, 0}, // W's update split by its rows, as the forward product splits them
		{"[784,300,10] at batch 10", network.Book([]int{784, 300, 10}), 10, 0},
		{"two conv", layersSpec(t, relu, 0.1), 30, 0.1},
		{"shallow conv", layersSpec(t, "conv:20x5x5,pool:2,fc:100,softmax:10", 0), 7, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := graph.Compile(c.spec, c.batch, graph.Float32, graph.Step{Eta: 0.1, N: 1000, Batch: c.batch})
			if err != nil {
				t.Fatal(err)
			}
			var outs [][]float32
			for _, workers := range []int{1, 2} {
				r := rand.New(rand.NewPCG(11, 11))
				m := NewMachine[float32](p, workers)
				for _, b := range append(append([]int{p.X}, p.Weights...), p.Biases...) {
					copy(m.Buf(b), conv[float32](randSlice(r, len(m.Buf(b)))))
				}
				for i := range c.batch {
					m.Buf(p.Y)[i*10+i%10] = 1
				}
				m.Run()
				out := slices.Clone(m.Buf(p.Output))
				for _, b := range append(slices.Clone(p.Weights), p.Biases...) {
					out = append(out, m.Buf(b)...)
				}
				outs = append(outs, out)
				m.Close()
			}
			for i := range outs[0] {
				if math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) {
					t.Fatalf("value %d: %v on one core, %v on two", i, outs[0][i], outs[1][i])
				}
			}
		})
	}
}

// layersSpec is the network of a --layers description.
func layersSpec(t *testing.T, desc string, lambda float64) network.Spec {
	t.Helper()
	layers, err := network.ParseLayers(desc)
	if err != nil {
		t.Fatal(err)
	}
	return network.Spec{Arch: network.Arch{Layers: layers}, Objective: network.Objective{Lambda: lambda}}.Norm()
}

// TestSigmoid32 holds the float32 σ (the SIMD kernel where there is one)
// to the float64 formula rounded, over the range training meets, the
// clamped tails, the infinities and every length around the lane width;
// a NaN must stay NaN, since divergence is detected by it.
func TestSigmoid32(t *testing.T) {
	var xs []float32
	for x := -100.0; x <= 100; x += 0.0137 {
		xs = append(xs, float32(x))
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		xs = append(xs, float32(r.NormFloat64()*8))
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 87.9, 88.1, -85.9, -86.1, 1e30, -1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)), math.MaxFloat32, -math.MaxFloat32)
	got := make([]float32, len(xs))
	sigmoid(got, xs, nil, 0, 0)
	for i, x := range xs {
		want := 1 / (1 + math.Exp(-float64(x)))
		// Within 2 ulp (relative 2.4e-7) or, in the far tail where σ is
		// below 1e-38, within 1e-38 absolute.
		if d := math.Abs(float64(got[i]) - want); d > 2.4e-7*want && d > 1e-38 {
			t.Fatalf("σ(%g) = %g, want %g (diff %g)", x, got[i], want, d)
		}
		if got[i] < 0 || got[i] > 1 {
			t.Fatalf("σ(%g) = %g, outside [0,1]", x, got[i])
		}
	}
	for n := range 20 {
		in := make([]float32, n)
		for i := range in {
			in[i] = float32(i) - 7.5
		}
		if n > 0 {
			in[n-1] = float32(math.NaN())
		}
		out := make([]float32, n)
		sigmoid(out, in, nil, 0, 0)
		for j := range n {
			// The same input gives the same bits wherever it sits: in the
			// kernel's body or in the ragged end.
			sub := make([]float32, n-j)
			sigmoid(sub, in[j:], nil, 0, 0)
			for i := range sub {
				if math.Float32bits(sub[i]) != math.Float32bits(out[j+i]) && !math.IsNaN(float64(sub[i])) {
					t.Fatalf("σ(%g) is %g at position %d of %d, %g at position %d", in[j+i], out[j+i], j+i, n, sub[i], i)
				}
			}
		}
		for i := range n - 1 {
			if want := 1 / (1 + math.Exp(-float64(in[i]))); math.Abs(float64(out[i])-want) > 2.4e-7*want {
				t.Fatalf("n=%d: σ(%g) = %g, want %g", n, in[i], out[i], want)
			}
		}
		if n > 0 && !math.IsNaN(float64(out[n-1])) {
			t.Fatalf("n=%d: σ(NaN) = %g, want NaN", n, out[n-1])
		}
	}
}

// TestMapsLayoutA: a product reading A in place as NCHW maps (mapsA)
// equals, bit for bit, the same product over A permuted to NHWC rows, for
// the two products that read a convolution's gradient so: its weight
// gradient (Aᵀ·B, k running over images and positions, longer than one
// pass of axpyMaxK) and its patches' gradient (A·B).
func TestMapsLayoutA(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct {
		transA              bool
		images, maps, hw, n int
	}{
		{true, 5, 6, 64, 25},
		{true, 3, 7, 49, 9},
		{false, 4, 6, 36, 30},
		{false, 2, 5, 9, 3},
	} {
		t.Run(fmt.Sprintf("transA=%v/%dx%dx%d,n=%d", c.transA, c.images, c.maps, c.hw, c.n), func(t *testing.T) {
			rows := c.images * c.hw
			nchw := conv[float32](randSlice(r, rows*c.maps))
			nhwc := make([]float32, len(nchw))
			for n := range c.images {
				for f := range c.maps {
					for p := range c.hw {
						nhwc[(n*c.hw+p)*c.maps+f] = nchw[(n*c.maps+f)*c.hw+p]
					}
				}
			}
			m, k := rows, c.maps
			if c.transA {
				m, k = c.maps, rows
			}
			b := conv[float32](randSlice(r, k*c.n))
			c0 := conv[float32](randSlice(r, m*c.n))
			plain := gemm[float32]{transA: c.transA, m: m, n: c.n, k: k, alpha: -0.5, beta: 0.75,
				a: nhwc, lda: c.maps, b: b, ldb: c.n, c: slices.Clone(c0), ldc: c.n}
			maps := plain
			maps.a, maps.lda, maps.mapsA, maps.hwA, maps.c = nchw, 0, c.maps, c.hw, slices.Clone(c0)
			plain.block(0, m, 0, c.n)
			maps.block(0, m, 0, c.n)
			for i := range plain.c {
				if math.Float32bits(plain.c[i]) != math.Float32bits(maps.c[i]) {
					t.Fatalf("c[%d] = %v from the maps, %v from the rows", i, maps.c[i], plain.c[i])
				}
			}
		})
	}
}
