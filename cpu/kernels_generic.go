package cpu

import "math"

// The plain Go kernels are twins of the vector ones (simd_amd64.s,
// simd_arm64.s): the same blocking, the same lanes and the same order of
// sums. With fused set they also make the same fused multiply-adds, and so
// give the same bits: the tests' oracle for the vector kernels. float32
// needs no FMA hardware for that: its product is exact in float64, so fma32
// gets the fused result from float64 arithmetic; float64 uses math.FMA.
// But the fused twins run about 9 times slower than plain multiplies and
// adds (fma32 adds in float64 and checks the result; math.FMA is software
// on amd64 without FMA), so the kernels in use where there are no vector
// ones (fused false) multiply, round, then add: their counts are their own.
//
// A product that is rounded on its own is written T(a·b): an explicit
// conversion rounds, and keeps the compiler from fusing it into an FMA
// (which it does on arm64, ppc64, s390x and riscv64).

// dotRows × dotCols is the block of C one call of dotBlock computes: each
// chunk of an A row is loaded once for dotCols products, each chunk of a B
// row once for dotRows.
const (
	dotRows = 4
	dotCols = 3
)

// dotBlockGo is the vector kernels' dot4x3 with their Go tail:
// out[3r+c] = a[(i+r)·lda:]·b[(j+c)·ldb:] over k, for r < nr, c < nc. Each
// of the twelve sums runs in lanes[T] accumulators, lane l taking the
// elements l, l+lanes, …; then the lanes are added in pairs ((0+1)+(2+3))
// and so on, as the horizontal adds do; then the k mod lanes elements left
// are added one at a time.
func dotBlockGo[T Float](fused bool, out *[dotRows * dotCols]T, a []T, i, nr, lda int, b []T, j, nc, ldb, k int) {
	switch o := any(out).(type) {
	case *[12]float32:
		if fused {
			dot4x3Go32(o, any(a).([]float32), i, nr, lda, any(b).([]float32), j, nc, ldb, k)
		} else {
			dotPlain(out, a, i, nr, lda, b, j, nc, ldb, k)
		}
	case *[12]float64:
		if fused {
			dot4x3Go64(o, any(a).([]float64), i, nr, lda, any(b).([]float64), j, nc, ldb, k)
		} else {
			dotPlain(out, a, i, nr, lda, b, j, nc, ldb, k)
		}
	}
	dotTail(out, a, i, nr, lda, b, j, nc, ldb, k)
}

// dotPlain is dot4x3Go32 and dot4x3Go64 with each product rounded, then
// added: the lanes and their order are the same. It takes two rows at a
// time (six sums and five loads in registers; twelve would spill).
func dotPlain[T Float](out *[dotRows * dotCols]T, a []T, i, nr, lda int, b []T, j, nc, ldb, k int) {
	L := lanes[T]()
	kb := k &^ (L - 1)
	col := func(t int) []T { t = j + min(t, nc-1); return b[t*ldb : t*ldb+kb] }
	b0 := col(0)
	b1, b2 := col(1)[:len(b0)], col(2)[:len(b0)]
	var lane [12][8]T
	for r := 0; r < nr; r += 2 {
		a0 := a[(i+r)*lda:][:len(b0)]
		a1 := a[(i+min(r+1, nr-1))*lda:][:len(b0)]
		for l := 0; l < L; l++ {
			var s00, s01, s02, s10, s11, s12 T
			for x := l; x < len(b0); x += L {
				x0, x1, x2 := b0[x], b1[x], b2[x]
				v, w := a0[x], a1[x]
				s00, s01, s02 = s00+T(v*x0), s01+T(v*x1), s02+T(v*x2)
				s10, s11, s12 = s10+T(w*x0), s11+T(w*x1), s12+T(w*x2)
			}
			o := 3 * r
			lane[o][l], lane[o+1][l], lane[o+2][l] = s00, s01, s02
			if o+3 < len(lane) {
				lane[o+3][l], lane[o+4][l], lane[o+5][l] = s10, s11, s12
			}
		}
	}
	for o := range out {
		v := &lane[o]
		if L == 8 {
			out[o] = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))
		} else {
			out[o] = (v[0] + v[1]) + (v[2] + v[3])
		}
	}
}

// dotTail adds the products past the last whole lane group, one at a time
// (each sum takes them in the order of k). A whole block, the usual case,
// keeps its twelve sums in registers.
func dotTail[T Float](out *[dotRows * dotCols]T, a []T, i, nr, lda int, b []T, j, nc, ldb, k int) {
	kb := k &^ (lanes[T]() - 1)
	if kb == k {
		return
	}
	if nr == dotRows && nc == dotCols {
		n := k - kb
		a0, a1, a2, a3 := a[i*lda+kb:][:n], a[(i+1)*lda+kb:][:n], a[(i+2)*lda+kb:][:n], a[(i+3)*lda+kb:][:n]
		b0, b1, b2 := b[j*ldb+kb:][:n], b[(j+1)*ldb+kb:][:n], b[(j+2)*ldb+kb:][:n]
		s := *out
		for t := range n {
			x0, x1, x2 := b0[t], b1[t], b2[t]
			v := a0[t]
			s[0], s[1], s[2] = s[0]+T(v*x0), s[1]+T(v*x1), s[2]+T(v*x2)
			v = a1[t]
			s[3], s[4], s[5] = s[3]+T(v*x0), s[4]+T(v*x1), s[5]+T(v*x2)
			v = a2[t]
			s[6], s[7], s[8] = s[6]+T(v*x0), s[7]+T(v*x1), s[8]+T(v*x2)
			v = a3[t]
			s[9], s[10], s[11] = s[9]+T(v*x0), s[10]+T(v*x1), s[11]+T(v*x2)
		}
		*out = s
		return
	}
	for kt := kb; kt < k; kt++ {
		for r := 0; r < nr; r++ {
			for c := 0; c < nc; c++ {
				out[3*r+c] += T(a[(i+r)*lda+kt] * b[(j+c)*ldb+kt])
			}
		}
	}
}

// dot4x3Go32 computes the lane sums of dotBlockGo in float32, one lane of
// the twelve sums at a time (twelve accumulators in registers).
func dot4x3Go32(out *[12]float32, a []float32, i, nr, lda int, b []float32, j, nc, ldb, k int) {
	const L = 8
	kb := k &^ (L - 1)
	row := func(t int) []float32 { t = i + min(t, nr-1); return a[t*lda : t*lda+kb] }
	col := func(t int) []float32 { t = j + min(t, nc-1); return b[t*ldb : t*ldb+kb] }
	a0, a1, a2, a3 := row(0), row(1), row(2), row(3)
	b0, b1, b2 := col(0), col(1), col(2)
	var lane [12][L]float32
	for l := 0; l < L; l++ {
		var s00, s01, s02, s10, s11, s12, s20, s21, s22, s30, s31, s32 float32
		for x := l; x < kb; x += L {
			x0, x1, x2 := b0[x], b1[x], b2[x]
			v := a0[x]
			s00, s01, s02 = fma32(v, x0, s00), fma32(v, x1, s01), fma32(v, x2, s02)
			v = a1[x]
			s10, s11, s12 = fma32(v, x0, s10), fma32(v, x1, s11), fma32(v, x2, s12)
			v = a2[x]
			s20, s21, s22 = fma32(v, x0, s20), fma32(v, x1, s21), fma32(v, x2, s22)
			v = a3[x]
			s30, s31, s32 = fma32(v, x0, s30), fma32(v, x1, s31), fma32(v, x2, s32)
		}
		for o, s := range [12]float32{s00, s01, s02, s10, s11, s12, s20, s21, s22, s30, s31, s32} {
			lane[o][l] = s
		}
	}
	for o := range out {
		v := &lane[o]
		out[o] = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))
	}
}

// dot4x3Go64 is dot4x3Go32 in float64: four lanes.
func dot4x3Go64(out *[12]float64, a []float64, i, nr, lda int, b []float64, j, nc, ldb, k int) {
	const L = 4
	kb := k &^ (L - 1)
	row := func(t int) []float64 { t = i + min(t, nr-1); return a[t*lda : t*lda+kb] }
	col := func(t int) []float64 { t = j + min(t, nc-1); return b[t*ldb : t*ldb+kb] }
	a0, a1, a2, a3 := row(0), row(1), row(2), row(3)
	b0, b1, b2 := col(0), col(1), col(2)
	var lane [12][L]float64
	for l := 0; l < L; l++ {
		var s00, s01, s02, s10, s11, s12, s20, s21, s22, s30, s31, s32 float64
		for x := l; x < kb; x += L {
			x0, x1, x2 := b0[x], b1[x], b2[x]
			v := a0[x]
			s00, s01, s02 = fma64(v, x0, s00), fma64(v, x1, s01), fma64(v, x2, s02)
			v = a1[x]
			s10, s11, s12 = fma64(v, x0, s10), fma64(v, x1, s11), fma64(v, x2, s12)
			v = a2[x]
			s20, s21, s22 = fma64(v, x0, s20), fma64(v, x1, s21), fma64(v, x2, s22)
			v = a3[x]
			s30, s31, s32 = fma64(v, x0, s30), fma64(v, x1, s31), fma64(v, x2, s32)
		}
		for o, s := range [12]float64{s00, s01, s02, s10, s11, s12, s20, s21, s22, s30, s31, s32} {
			lane[o][l] = s
		}
	}
	for o := range out {
		v := &lane[o]
		out[o] = (v[0] + v[1]) + (v[2] + v[3])
	}
}

// axpyRowsGo is the vector kernels' axpy4 with their Go tail: for r < nr,
// row r of C (stride ldc, n columns) gets Σₜ coef[4t+r]·b[t·ldb:], added to
// β times itself when add (β = *beta, or 1 where beta is nil). Where the
// vector kernel covers a column (below n&^(lanes−1)), each term is fused
// into the running sum; past it (axpyTail), each product is rounded, then
// added.
func axpyRowsGo[T Float](fused bool, c []T, nr, ldc, n int, add bool, beta *T, coef []T, k int, b []T, ldb int) {
	nb := n &^ (lanes[T]() - 1)
	if fused {
		axpy4Go(c, nr, ldc, nb, add, beta, coef, k, b, ldb, fmaOf[T]())
	} else {
		axpyPlain(c, nr, ldc, nb, add, beta, coef, k, b, ldb)
	}
	axpyTail(c, nr, ldc, n, add, beta, coef, k, b, ldb)
}

// axpyTail computes the columns of axpyRowsGo past n&^(lanes−1). The four
// rows' sums run side by side (spare rows repeat the last one, computed
// but not stored), so that each waits on its own adds only.
func axpyTail[T Float](c []T, nr, ldc, n int, add bool, beta *T, coef []T, k int, b []T, ldb int) {
	coef = coef[:4*k]
	for x := n &^ (lanes[T]() - 1); x < n; x++ {
		var s [4]T
		if add {
			for r := range s {
				s[r] = c[min(r, nr-1)*ldc+x]
				if beta != nil {
					s[r] *= *beta
				}
			}
		}
		s0, s1, s2, s3 := s[0], s[1], s[2], s[3]
		for t := 0; t < k; t++ {
			q, bt := coef[4*t:][:4], b[t*ldb+x]
			s0, s1, s2, s3 = s0+T(q[0]*bt), s1+T(q[1]*bt), s2+T(q[2]*bt), s3+T(q[3]*bt)
		}
		s = [4]T{s0, s1, s2, s3}
		for r := range nr {
			c[r*ldc+x] = s[r]
		}
	}
}

// axpyPlain is axpy4Go with each product rounded, then
// added: four rows and four columns at a time.
func axpyPlain[T Float](c []T, nr, ldc, nb int, add bool, beta *T, coef []T, k int, b []T, ldb int) {
	coef = coef[:4*k]
	for r := 0; r < nr; r++ {
		row := c[r*ldc : r*ldc+nb]
		for x := 0; x+4 <= len(row); x += 4 {
			var s0, s1, s2, s3 T
			if add {
				s0, s1, s2, s3 = row[x], row[x+1], row[x+2], row[x+3]
				if beta != nil {
					β := *beta
					s0, s1, s2, s3 = T(s0*β), T(s1*β), T(s2*β), T(s3*β)
				}
			}
			for t := r; t < len(coef); t += 4 {
				q, bt := coef[t], b[(t>>2)*ldb+x:][:4]
				s0, s1, s2, s3 = s0+T(q*bt[0]), s1+T(q*bt[1]), s2+T(q*bt[2]), s3+T(q*bt[3])
			}
			row[x], row[x+1], row[x+2], row[x+3] = s0, s1, s2, s3
		}
	}
}

// axpy4Go is the vector kernels' axpy4 over the first nb columns: four
// rows and two columns at a time, eight sums in registers over all of k,
// each term fused into its sum by fma (fma32 or fma64).
func axpy4Go[T Float](c []T, nr, ldc, nb int, add bool, beta *T, coef []T, k int, b []T, ldb int, fma func(a, b, c T) T) {
	rowOf := func(r int) []T { r = min(r, nr-1); return c[r*ldc : r*ldc+nb] }
	c0, c1, c2, c3 := rowOf(0), rowOf(1), rowOf(2), rowOf(3)
	coef = coef[:4*k]
	for x := 0; x < nb; x += 2 { // nb is a whole number of lanes: even
		var s00, s01, s10, s11, s20, s21, s30, s31 T
		if add {
			s00, s01, s10, s11, s20, s21, s30, s31 = c0[x], c0[x+1], c1[x], c1[x+1], c2[x], c2[x+1], c3[x], c3[x+1]
			if beta != nil {
				β := *beta
				s00, s01, s10, s11 = T(s00*β), T(s01*β), T(s10*β), T(s11*β)
				s20, s21, s30, s31 = T(s20*β), T(s21*β), T(s30*β), T(s31*β)
			}
		}
		for t := 0; t < k; t++ {
			bt := b[t*ldb+x : t*ldb+x+2]
			x0, x1 := bt[0], bt[1]
			q := coef[4*t : 4*t+4]
			s00, s01 = fma(q[0], x0, s00), fma(q[0], x1, s01)
			s10, s11 = fma(q[1], x0, s10), fma(q[1], x1, s11)
			s20, s21 = fma(q[2], x0, s20), fma(q[2], x1, s21)
			s30, s31 = fma(q[3], x0, s30), fma(q[3], x1, s31)
		}
		// Spare rows repeat the last one: stored last, they store its values.
		c3[x], c3[x+1] = s30, s31
		c2[x], c2[x+1] = s20, s21
		c1[x], c1[x+1] = s10, s11
		c0[x], c0[x+1] = s00, s01
	}
}

// axpysGo: c = [c if add] + Σₜ coef[t]·b[t*ldb : t*ldb+len(c)], each
// product rounded, then added (the rows too short for a vector register).
func axpysGo[T Float](c []T, add bool, coef []T, b []T, ldb int) {
	if !add {
		clear(c)
	}
	n := len(c)
	for t, a := range coef {
		row := b[t*ldb : t*ldb+n]
		for x := range c {
			c[x] += T(a * row[x])
		}
	}
}

// pixelsGo: dst[i] = src[i]/255 through a table.
func pixelsGo[T Float](dst []T, src []uint8, lut *[256]T) {
	dst = dst[:len(src)]
	for i, p := range src {
		dst[i] = lut[p]
	}
}

// fma32 is a·b+c rounded once to float32, as VFMADD231PS and FMLA give it.
func fma32(a, b, c float32) float32 {
	return round32(float64(a)*float64(b), float64(c))
}

// round32 is p+c rounded once to float32, for p a product of two float32s
// (exact in float64) and c a float32. The float64 sum s is rounded once;
// rounding s again to float32 gives the once-rounded result except where s
// falls exactly halfway between two float32s (and s is not the exact sum)
// or below float32's normal range: those, a few in a billion, take
// round32Slow.
func round32(p, c float64) float32 {
	s := p + c
	if b := math.Float64bits(s); b&(1<<29-1) == 1<<28 || b&(0x7ff<<52) < (1023-126)<<52 && s != 0 {
		return round32Slow(p, c, s)
	}
	return float32(s)
}

// round32Slow rounds s = p+c to odd (the float64 next to it whose last bit
// is 1, on the side of the exact sum, where s is inexact), which float32
// then rounds as it would the exact sum: 53 bits leave more than the two
// spare bits round-to-odd needs.
func round32Slow(p, c, s float64) float32 {
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	// TwoSum: err is the exact p+c − s.
	bb := s - p
	err := (p - (s - bb)) + (c - bb)
	bits := math.Float64bits(s)
	if err != 0 && bits&1 == 0 {
		if (err > 0) == (s > 0) {
			bits++
		} else {
			bits--
		}
	}
	return float32(math.Float64frombits(bits))
}

// fma64 is a·b+c rounded once (in software where the CPU has no FMA).
func fma64(a, b, c float64) float64 { return math.FMA(a, b, c) }

// fmaOf is the fused multiply-add of T's width: fma32 or fma64.
func fmaOf[T Float]() func(a, b, c T) T {
	if f, ok := any(fma64).(func(a, b, c T) T); ok {
		return f
	}
	return any(fma32).(func(a, b, c T) T)
}

// sig holds sigmoidF32's constants as asmgen writes them: the float64
// value rounded to float32.
var sig = struct {
	log2e, ln2hi, ln2lo float32
	p                   [6]float32 // 1/7! … 1/3!, 1/2
}{
	float32(float64(math.Log2E)), 0x1.63p-1, float32(float64(math.Ln2 - 0x1.63p-1)),
	[6]float32{float32(float64(1.0 / 5040)), float32(float64(1.0 / 720)), float32(float64(1.0 / 120)),
		float32(float64(1.0 / 24)), float32(float64(1.0 / 6)), 0.5},
}

// sigmoid32Go is the vector σ kernel, sigmoidF32, one value at a time:
// the same clamp, range reduction, polynomial and fused multiply-adds.
func sigmoid32Go(d, a []float32) {
	a = a[:len(d)]
	for i, x := range a {
		t := -x
		if t > 88 { // a NaN stays NaN, as MINPS and MAXPS keep it
			t = 88
		} else if t < -86 {
			t = -86
		}
		n := float32(math.RoundToEven(float64(t * sig.log2e)))
		r := fma32(-n, sig.ln2hi, t)
		r = fma32(-n, sig.ln2lo, r)
		y := fma32(sig.p[0], r, sig.p[1])
		for _, p := range sig.p[2:] {
			y = fma32(y, r, p)
		}
		y = fma32(y, float32(r*r), r)
		y += 1
		if !math.IsNaN(float64(n)) { // eʳ·2ⁿ by adding n to the exponent
			y = math.Float32frombits(math.Float32bits(y) + uint32(int32(n))<<23)
		}
		d[i] = 1 / (y + 1)
	}
}
