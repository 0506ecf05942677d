package cpu

import (
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/gputrain/gputrain/graph"
)

// The kernels against their twins: the vector kernels (AVX2, AVX-512,
// NEON) against the plain Go ones bit for bit, the Go twins against
// textbook sums, and the element-wise kernels.

// TestVectorKernels holds the vector kernels (AVX2 or NEON) to their
// plain Go twins bit for bit, at every length around the lane widths,
// shorter than one register included: the twins do the same arithmetic in
// the same order, so any difference is a bug in one of them.
func TestVectorKernels(t *testing.T) {
	if !vector {
		t.Skip("no vector kernels on this CPU: the Go twins are the ones in use")
	}
	for _, k := range kernelSets() {
		t.Run(k.name, func(t *testing.T) {
			defer k.use()()
			r := rand.New(rand.NewPCG(3, 4))
			checkBlockKernels[float32](t, r)
			checkBlockKernels[float64](t, r)
		})
	}
}

// same reports whether x and y have the same bits.
func same[T Float](x, y T) bool {
	return math.Float64bits(float64(x)) == math.Float64bits(float64(y))
}

// checkBlockKernels compares dotBlockVec, dotPair and axpyRowsVec, the
// register-blocked kernels, with the Go twins for T at every length around
// the lane width, with short blocks (spare rows and columns) included.
func checkBlockKernels[T Float](t *testing.T, r *rand.Rand) {
	t.Helper()
	for k := 1; k <= 70; k++ {
		a := conv[T](randSlice(r, 6*(k+1)))
		b := conv[T](randSlice(r, 5*(k+2)))
		for nr := 1; nr <= dotRows; nr++ {
			for nc := 1; nc <= dotCols; nc++ {
				var got, want [dotRows * dotCols]T
				dotBlock(&got, a, 1, nr, k+1, b, 2, nc, k+2, k)
				dotBlockGo(true, &want, a, 1, nr, k+1, b, 2, nc, k+2, k)
				for x := 0; x < nr*dotCols; x++ {
					if x%dotCols < nc && !same(got[x], want[x]) {
						t.Fatalf("dotBlock %T k=%d %dx%d: %v, want %v", got[0], k, nr, nc, got, want)
					}
				}
			}
		}
	}
	for k := 1; k <= 70; k++ {
		a := conv[T](randSlice(r, 6*(k+1)))
		b := conv[T](randSlice(r, 8*(k+2)))
		for nr := 1; nr <= dotRows; nr++ {
			var got, want [2 * dotRows * dotCols]T
			dotPair(&got, a, 1, nr, k+1, b, 2, k+2, k)
			dotBlockGo(true, (*[dotRows * dotCols]T)(want[:12]), a, 1, nr, k+1, b, 2, dotCols, k+2, k)
			dotBlockGo(true, (*[dotRows * dotCols]T)(want[12:]), a, 1, nr, k+1, b, 2+dotCols, dotCols, k+2, k)
			for x := range 2 * dotRows * dotCols {
				if row := x % 12 / dotCols; row < nr && !same(got[x], want[x]) {
					t.Fatalf("dotPair %T k=%d %d rows: %v, want %v", got[0], k, nr, got, want)
				}
			}
		}
	}
	for k := 1; k <= 70; k++ {
		a := conv[T](randSlice(r, 12*(k+1)))
		b := conv[T](randSlice(r, 7*(k+2)))
		var got [dotTenRows * dotTenCols]T
		if !dotTenVec(got[:], dotTenCols, a, 1, k+1, b, 2, k+2, k) {
			break // no such kernel in this set
		}
		for r0 := 0; r0 < dotTenRows; r0 += dotRows {
			var want [dotRows * dotCols]T
			nr := min(dotRows, dotTenRows-r0)
			dotBlockGo(true, &want, a, 1+r0, nr, k+1, b, 3, dotCols, k+2, k) // columns 1–3 of the four
			for x := range nr * dotCols {
				if g := got[dotTenCols*(r0+x/dotCols)+1+x%dotCols]; !same(g, want[x]) {
					t.Fatalf("dotTenVec %T k=%d: row %d column %d = %v, want %v", got[0], k, r0+x/dotCols, 1+x%dotCols, g, want[x])
				}
			}
		}
	}
	for n := 1; n <= 70; n++ {
		for _, kk := range []int{1, 3, 10} {
			for nr := 1; nr <= 4; nr++ {
				for _, mode := range []struct {
					add   bool
					decay T // β; 0 for none (nil)
				}{{false, 0}, {true, 0}, {true, 0.99}} {
					var beta *T
					if mode.decay != 0 {
						beta = &mode.decay
					}
					const ldc = 75
					coef := conv[T](randSlice(r, 4*kk))
					for x := 0; x < kk; x++ { // spare rows repeat the last one, as axpyBlocks fills them
						for row := nr; row < 4; row++ {
							coef[4*x+row] = coef[4*x+nr-1]
						}
					}
					b := conv[T](randSlice(r, kk*(n+2)))
					c0 := conv[T](randSlice(r, 4*ldc))
					got, want := append([]T(nil), c0...), append([]T(nil), c0...)
					axpyRows(got, nr, ldc, n, mode.add, beta, coef, kk, b, n+2)
					axpyRowsGo(true, want, nr, ldc, n, mode.add, beta, coef, kk, b, n+2)
					for x := range want {
						if !same(got[x], want[x]) {
							t.Fatalf("axpyRows %T n=%d k=%d rows=%d add=%v β=%v: c[%d][%d] = %v, want %v",
								got[0], n, kk, nr, mode.add, mode.decay, x/ldc, x%ldc, got[x], want[x])
						}
					}
				}
			}
		}
	}
}

// TestGoTwins holds the Go twins, fused and not, to the textbook sums of
// refGEMM's kind (float64, any order), within the rounding of their float32
// or float64 arithmetic, with short blocks and every tail: the twins' own
// correctness, on any machine.
func TestGoTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, fused := range []bool{true, false} {
		checkTwins[float32](t, r, fused, 1e-6)
		checkTwins[float64](t, r, fused, 1e-15)
	}
}

func checkTwins[T Float](t *testing.T, r *rand.Rand, fused bool, tol float64) {
	t.Helper()
	for _, k := range []int{1, 3, 4, 7, 8, 9, 17, 64, 301} {
		a, b := randSlice(r, 6*(k+1)), randSlice(r, 5*(k+2))
		for nr := 1; nr <= dotRows; nr++ {
			for nc := 1; nc <= dotCols; nc++ {
				var got [dotRows * dotCols]T
				dotBlockGo(fused, &got, conv[T](a), 1, nr, k+1, conv[T](b), 2, nc, k+2, k)
				for x := 0; x < nr*dotCols; x++ {
					if x%dotCols >= nc {
						continue
					}
					var want, mag float64
					for t := 0; t < k; t++ {
						p := float64(T(a[(1+x/dotCols)*(k+1)+t])) * float64(T(b[(2+x%dotCols)*(k+2)+t]))
						want, mag = want+p, mag+math.Abs(p)
					}
					if d := math.Abs(float64(got[x]) - want); d > tol*float64(k)*mag {
						t.Fatalf("dotBlockGo %T k=%d %dx%d: [%d] = %v, want %v", got[0], k, nr, nc, x, got[x], want)
					}
				}
			}
		}
	}
	for _, n := range []int{1, 5, 8, 9, 31} {
		for _, k := range []int{1, 10} {
			const ldc = 40
			coef, b, c := randSlice(r, 4*k), randSlice(r, k*n), randSlice(r, 4*ldc)
			for _, add := range []bool{false, true} {
				beta := T(0.9)
				got := conv[T](c)
				axpyRowsGo(fused, got, 4, ldc, n, add, &beta, conv[T](coef), k, conv[T](b), n)
				for row := range 4 {
					for x := range n {
						var want, mag float64
						if add {
							want = float64(T(c[row*ldc+x]) * beta)
							mag = math.Abs(want)
						}
						for t := range k {
							p := float64(T(coef[4*t+row])) * float64(T(b[t*n+x]))
							want, mag = want+p, mag+math.Abs(p)
						}
						if d := math.Abs(float64(got[row*ldc+x]) - want); d > tol*float64(k+1)*mag {
							t.Fatalf("axpyRowsGo %T n=%d k=%d add=%v: c[%d][%d] = %v, want %v", got[0], n, k, add, row, x, got[row*ldc+x], want)
						}
					}
				}
			}
		}
	}
}

// TestFMA32 holds fma32 to a·b+c computed exactly (math/big) and rounded
// once to float32, on random operands, on sums that land exactly halfway
// between two float32s in float64 (where rounding twice goes wrong), and on
// results below float32's normal range.
func TestFMA32(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	type abc struct{ a, b, c float32 }
	cases := []abc{
		// 24929·673 = 2²⁴+1: a·b = 1+2⁻²⁴ is halfway; c nudges it above or below.
		{24929 * 0x1p-15, 673 * 0x1p-9, 0x1p-80},
		{24929 * 0x1p-15, 673 * 0x1p-9, -0x1p-80},
		{-24929 * 0x1p-15, 673 * 0x1p-9, 0x1p-80},
		{24929 * 0x1p-15, 673 * 0x1p-9, 0},
		{0x1p-70, 0x1p-70, 0x1p-140}, // below the normal range
		{0x1.000002p-70, 0x1.000002p-70, -0x1p-140},
		{3, 0x1p-130, 0x1p-149},
		{0, -1, 0}, {float32(math.Inf(1)), 1, 1}, {1e30, 1e30, 0}, {float32(math.NaN()), 1, 1},
	}
	for range 200000 {
		e := r.IntN(60) - 30
		cases = append(cases, abc{float32(r.NormFloat64()), float32(math.Ldexp(r.NormFloat64(), e)), float32(math.Ldexp(r.NormFloat64(), e+r.IntN(60)-30))})
	}
	for _, x := range cases {
		got := fma32(x.a, x.b, x.c)
		var want float32
		if p := float64(x.a) * float64(x.b); math.IsInf(p, 0) || math.IsNaN(p) || math.IsInf(float64(x.c), 0) || math.IsNaN(float64(x.c)) || math.Abs(p) > math.MaxFloat32 {
			want = float32(p + float64(x.c)) // no exact sum to take
		} else {
			sum := new(big.Float).SetPrec(400).SetFloat64(p)
			sum.Add(sum, new(big.Float).SetPrec(400).SetFloat64(float64(x.c)))
			want, _ = sum.Float32()
			if sum.Sign() == 0 {
				want = float32(p + float64(x.c)) // the sign of a zero sum
			}
		}
		if math.Float32bits(got) != math.Float32bits(want) && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
			t.Fatalf("fma32(%g, %g, %g) = %g, want %g", x.a, x.b, x.c, got, want)
		}
	}
}

func TestPixels(t *testing.T) {
	src := make([]uint8, 784+13)
	for i := range src {
		src[i] = uint8(i * 7)
	}
	var lut32 [256]float32
	var lut64 [256]float64
	for p := range lut32 {
		lut32[p], lut64[p] = float32(p)/255, float64(p)/255
	}
	for _, n := range []int{0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 784, len(src)} {
		d32, d64 := make([]float32, n), make([]float64, n)
		pixels(d32, src[:n], &lut32)
		pixels(d64, src[:n], &lut64)
		for i, p := range src[:n] {
			if d32[i] != float32(p)/255 || d64[i] != float64(p)/255 {
				t.Fatalf("n=%d pixel %d (%d): %v, %v; want exactly p/255", n, i, p, d32[i], d64[i])
			}
		}
	}
}

// TestSigmoidTwin holds the vector σ kernel to its Go twin bit for bit.
func TestSigmoidTwin(t *testing.T) {
	if !vector {
		t.Skip("no vector kernels on this CPU: the Go twin is the one in use")
	}
	r := rand.New(rand.NewPCG(12, 13))
	xs := []float32{0, float32(math.Copysign(0, -1)), 87.9, 88.1, -85.9, -86.1, 1e30, -1e30, float32(math.Inf(1)), float32(math.Inf(-1))}
	for range 100000 {
		xs = append(xs, float32(r.NormFloat64()*10))
	}
	got, want := make([]float32, len(xs)), make([]float32, len(xs))
	sigmoid32(got, xs)
	sigmoid32Go(want, xs)
	for i := range xs {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("σ(%g) = %g by the vector kernel, %g by its twin", xs[i], got[i], want[i])
		}
	}
}

// TestElementwiseKernels holds the vector element-wise kernels to the op
// table's Go kernels, bit for bit, at every length around the lanes, in
// place and not, with infinities, NaNs, subnormals and −0 among the values.
func TestElementwiseKernels(t *testing.T) {
	checkElementwise[float32](t)
	checkElementwise[float64](t)
}

// withSpecials returns values(n): n random values, about one in five
// of them ±∞, NaN, a subnormal, 0 or −0.
func withSpecials[T Float](r *rand.Rand) (values func(n int) []T) {
	special := []T{T(math.Inf(1)), T(math.Inf(-1)), T(math.NaN()), T(math.SmallestNonzeroFloat64), 1e-40, 0, T(math.Copysign(0, -1))}
	return func(n int) []T {
		v := conv[T](randSlice(r, n))
		for i := range v {
			if r.IntN(5) == 0 {
				v[i] = special[r.IntN(len(special))]
			}
		}
		return v
	}
}

func checkElementwise[T Float](t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	values := withSpecials[T](r)
	ops := []graph.Op{graph.Add, graph.Sub, graph.Mul, graph.Square, graph.Affine}
	if elementwiseKernel[T](graph.Add) == nil {
		if runtime.GOARCH == "amd64" && vector {
			t.Fatalf("%T: no element-wise kernels on a CPU with AVX2", T(0))
		}
		t.Skipf("no vector element-wise kernels on this %s CPU: the op table's run", runtime.GOARCH)
	}
	for _, op := range ops {
		vk := elementwiseKernel[T](op)
		if vk == nil {
			continue
		}
		ref := kernel[T](op.Def())
		for n := 0; n <= 70; n++ {
			a, b := values(n), values(n)
			alpha, beta := T(r.Float64()*4-2), T(r.Float64()*2-1)
			for _, inPlace := range []bool{false, true} {
				want := values(len(a))
				got := slices.Clone(want)
				ga, wa := a, a
				if inPlace {
					ga, wa = got, want
					copy(got, a)
					copy(want, a)
				}
				ref(want, wa, b, alpha, beta)
				vk(got, ga, b, alpha, beta)
				for i := range want {
					if !same(got[i], want[i]) {
						t.Fatalf("%s %T n=%d in place %v: d[%d] = %v, want %v", op.Def().Name, got[0], n, inPlace, i, got[i], want[i])
					}
				}
			}
		}
	}
}
