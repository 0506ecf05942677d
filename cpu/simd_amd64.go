//go:build amd64

package cpu

import (
	"golang.org/x/sys/cpu"

	"github.com/gputrain/gputrain/mnist"
)

// hasSIMD: the kernels need AVX2 and FMA (Haswell, Zen and later).
var hasSIMD = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dot4F32 sets out[r] = rₜ·b over the first k&^7 elements, for the four rows r0..r3.
//
//go:noescape
func dot4F32(r0, r1, r2, r3, b *float32, k int, out *[4]float32)

// axpyF32 sets c[x] = (c[x] if add) + Σₜ coef[t]·b[t*ldb+x] for x < n&^7.
//
//go:noescape
func axpyF32(c *float32, n int, add bool, coef *float32, k int, b *float32, ldb int)

// pixelsF32 sets dst[i] = float32(src[i])/255 for i < n&^7.
//
//go:noescape
func pixelsF32(dst *float32, src *uint8, n int)

// pixels converts bytes to p/255.
func pixels[T Float](dst []T, src []uint8, lut *[256]T) {
	n := len(src)
	if !hasSIMD || n < 8 {
		pixelsGo(dst, src, lut)
		return
	}
	_ = dst[n-1]
	switch d := any(dst).(type) {
	case []float32:
		pixelsF32(&d[0], &src[0], n)
	case []float64:
		pixelsF64(&d[0], &src[0], n)
	}
	for i := n &^ (lanes[T]() - 1); i < n; i++ {
		dst[i] = T(src[i]) / 255
	}
}

// pixelsF64 sets dst[i] = float64(src[i])/255 for i < n&^3.
//
//go:noescape
func pixelsF64(dst *float64, src *uint8, n int)

// dot4x3F32 sets out[3r+c] = aᵣ·b_c over the first k&^7 elements.
//
//go:noescape
func dot4x3F32(a0, a1, a2, a3, b0, b1, b2 *float32, k int, out *[12]float32)

// dot4x3F64 sets out[3r+c] = aᵣ·b_c over the first k&^3 elements.
//
//go:noescape
func dot4x3F64(a0, a1, a2, a3, b0, b1, b2 *float64, k int, out *[12]float64)

// lanes is how many T one AVX2 register holds: what the kernels cover
// before the Go loops take the tail.
func lanes[T Float]() int {
	var z T
	if _, ok := any(z).(float32); ok {
		return 8
	}
	return 4
}

// dotBlockSIMD: out[3r+c] = a[(i+r)·lda:]·b[(j+c)·ldb:] over k, for r < nr ≤ 4,
// c < nc ≤ 3. The kernel is picked by a type switch, not passed as a
// function value, which would make out escape: a step would allocate.
func dotBlockSIMD[T Float](out *[12]T, a []T, i, nr, lda int, b []T, j, nc, ldb, k int) {
	var ar [4]*T
	var br [3]*T
	for r := range ar {
		t := i + min(r, nr-1) // spare slots repeat the last row: computed, never stored
		ar[r] = &a[t*lda : t*lda+k][0]
	}
	for c := range br {
		t := j + min(c, nc-1)
		br[c] = &b[t*ldb : t*ldb+k][0]
	}
	switch o := any(out).(type) {
	case *[12]float32:
		p := func(x *T) *float32 { return any(x).(*float32) }
		dot4x3F32(p(ar[0]), p(ar[1]), p(ar[2]), p(ar[3]), p(br[0]), p(br[1]), p(br[2]), k, o)
	case *[12]float64:
		p := func(x *T) *float64 { return any(x).(*float64) }
		dot4x3F64(p(ar[0]), p(ar[1]), p(ar[2]), p(ar[3]), p(br[0]), p(br[1]), p(br[2]), k, o)
	}
	for kt := k &^ (lanes[T]() - 1); kt < k; kt++ {
		for r := 0; r < nr; r++ {
			for c := 0; c < nc; c++ {
				out[3*r+c] += a[(i+r)*lda+kt] * b[(j+c)*ldb+kt]
			}
		}
	}
}

// axpy4F32: for r < 4, x < n&^7, cᵣ[x] = (cᵣ[x] if add) + Σₜ coef[4t+r]·b[t*ldb+x].
//
//go:noescape
func axpy4F32(c0, c1, c2, c3 *float32, n int, add bool, coef *float32, k int, b *float32, ldb int)

// axpy4F64: for r < 4, x < n&^3, cᵣ[x] = (cᵣ[x] if add) + Σₜ coef[4t+r]·b[t*ldb+x].
//
//go:noescape
func axpy4F64(c0, c1, c2, c3 *float64, n int, add bool, coef *float64, k int, b *float64, ldb int)

// axpyRowsSIMD updates nr ≤ 4 rows of C (row stride ldc, n columns) at once:
// row r gets Σₜ coef[4t+r]·b[t·ldb:]; coef holds k interleaved quadruples.
func axpyRowsSIMD[T Float](c []T, nr, ldc, n int, add bool, coef []T, k int, b []T, ldb int) {
	var rows [4]*T
	for r := range rows {
		rows[r] = &c[min(r, nr-1)*ldc : min(r, nr-1)*ldc+n][0]
	}
	_ = b[(k-1)*ldb+n-1]
	_ = coef[4*k-1]
	switch cf := any(coef).(type) {
	case []float32:
		p := func(x *T) *float32 { return any(x).(*float32) }
		axpy4F32(p(rows[0]), p(rows[1]), p(rows[2]), p(rows[3]), n, add, &cf[0], k, p(&b[0]), ldb)
	case []float64:
		p := func(x *T) *float64 { return any(x).(*float64) }
		axpy4F64(p(rows[0]), p(rows[1]), p(rows[2]), p(rows[3]), n, add, &cf[0], k, p(&b[0]), ldb)
	}
	for x := n &^ (lanes[T]() - 1); x < n; x++ {
		for r := 0; r < nr; r++ {
			s := T(0)
			if add {
				s = c[r*ldc+x]
			}
			for t := 0; t < k; t++ {
				s += coef[4*t+r] * b[t*ldb+x]
			}
			c[r*ldc+x] = s
		}
	}
}

// dot4F64 and axpyF64 are the float64 kernels: k&^3 and n&^3 elements.
//
//go:noescape
func dot4F64(r0, r1, r2, r3, b *float64, k int, out *[4]float64)

//go:noescape
func axpyF64(c *float64, n int, add bool, coef *float64, k int, b *float64, ldb int)

// dotsSIMD: out[r] = a[r*lda : r*lda+len(b)] · b for len(out) ≤ 4 rows.
func dotsSIMD[T Float](out []T, a []T, lda int, b []T) {
	k := len(b)
	lanes := lanes[T]()
	if k < lanes {
		dotsGo(out, a, lda, b)
		return
	}
	var rows [4]*T
	for r := range rows {
		t := min(r, len(out)-1) // spare slots repeat the last row: read, never stored
		rows[r] = &a[t*lda : t*lda+k][0]
	}
	var o [4]T
	switch op := any(&o).(type) {
	case *[4]float32:
		p := func(x *T) *float32 { return any(x).(*float32) }
		dot4F32(p(rows[0]), p(rows[1]), p(rows[2]), p(rows[3]), p(&b[0]), k, op)
	case *[4]float64:
		p := func(x *T) *float64 { return any(x).(*float64) }
		dot4F64(p(rows[0]), p(rows[1]), p(rows[2]), p(rows[3]), p(&b[0]), k, op)
	}
	for r := range out {
		s := o[r]
		row := a[r*lda : r*lda+k]
		for i := k &^ (lanes - 1); i < k; i++ {
			s += row[i] * b[i]
		}
		out[r] = s
	}
}

// axpysSIMD: c = [c if add] + Σₜ coef[t]·b[t*ldb : t*ldb+len(c)].
func axpysSIMD[T Float](c []T, add bool, coef []T, b []T, ldb int) {
	n := len(c)
	lanes := lanes[T]()
	if n < lanes || len(coef) == 0 {
		axpysGo(c, add, coef, b, ldb)
		return
	}
	_ = b[(len(coef)-1)*ldb+n-1]
	switch cf := any(coef).(type) {
	case []float32:
		p := func(x *T) *float32 { return any(x).(*float32) }
		axpyF32(p(&c[0]), n, add, &cf[0], len(coef), p(&b[0]), ldb)
	case []float64:
		p := func(x *T) *float64 { return any(x).(*float64) }
		axpyF64(p(&c[0]), n, add, &cf[0], len(coef), p(&b[0]), ldb)
	}
	if nb := n &^ (lanes - 1); nb < n {
		axpysGo(c[nb:], add, coef, b[nb:], ldb)
	}
}

// prefetch asks for the cache lines of p[0:n] without waiting for them;
// n must be at least 1.
//
//go:noescape
func prefetch(p *uint8, n int)

// prefetchImages starts loading the images of idx into the cache, so that
// the next mini-batch's gather, a random walk over 39 MB of pixels, finds
// them there instead of stalling on memory while the CPU is idle.
func prefetchImages(images []uint8, idx []int32) {
	const n = mnist.Pixels
	for _, i := range idx {
		prefetch(&images[int(i)*n : (int(i)+1)*n][0], n)
	}
}

// sigmoidF32 sets d[i] = σ(a[i]) for i < n&^7 (see simd_amd64.s).
//
//go:noescape
func sigmoidF32(d, a *float32, n int)

// sigmoid32 is σ over float32 slices with the eight-lane kernel. The ragged
// end goes through the kernel too, from a padded copy, so that a value does
// not depend on where a split over the cores puts it.
func sigmoid32(d, a []float32) {
	n := len(d)
	a = a[:n]
	if n >= 8 {
		sigmoidF32(&d[0], &a[0], n)
	}
	if t := n &^ 7; t < n {
		var buf [8]float32
		copy(buf[:], a[t:])
		sigmoidF32(&buf[0], &buf[0], 8)
		copy(d[t:], buf[:n-t])
	}
}
