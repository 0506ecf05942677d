//go:build amd64

package cpu

import "golang.org/x/sys/cpu"

// hasSIMD: the float32 kernels need AVX2 and FMA (Haswell, Zen and later).
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
	if f, ok := any(dst).([]float32); ok && hasSIMD && n >= 8 {
		_ = f[n-1]
		pixelsF32(&f[0], &src[0], n)
		for i := n &^ 7; i < n; i++ {
			f[i] = float32(src[i]) / 255
		}
		return
	}
	pixelsGo(dst, src, lut)
}

// dot4F64 and axpyF64 are the float64 kernels: k&^3 and n&^3 elements.
//
//go:noescape
func dot4F64(r0, r1, r2, r3, b *float64, k int, out *[4]float64)

//go:noescape
func axpyF64(c *float64, n int, add bool, coef *float64, k int, b *float64, ldb int)

func dotsF32(out []float32, a []float32, lda int, b []float32) { dotsSIMD(out, a, lda, b, 8, dot4F32) }
func dotsF64(out []float64, a []float64, lda int, b []float64) { dotsSIMD(out, a, lda, b, 4, dot4F64) }

func axpysF32(c []float32, add bool, coef []float32, b []float32, ldb int) {
	axpysSIMD(c, add, coef, b, ldb, 8, axpyF32)
}

func axpysF64(c []float64, add bool, coef []float64, b []float64, ldb int) {
	axpysSIMD(c, add, coef, b, ldb, 4, axpyF64)
}

// dotsSIMD runs a four-row dot kernel that covers k rounded down to whole
// registers of lanes elements, and finishes the tail in Go.
func dotsSIMD[T Float](out []T, a []T, lda int, b []T, lanes int, kernel func(r0, r1, r2, r3, b *T, k int, out *[4]T)) {
	k := len(b)
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
	kernel(rows[0], rows[1], rows[2], rows[3], &b[0], k, &o)
	tail := k &^ (lanes - 1)
	for r := range out {
		s := o[r]
		row := a[r*lda : r*lda+k]
		for i := tail; i < k; i++ {
			s += row[i] * b[i]
		}
		out[r] = s
	}
}

// axpysSIMD runs an axpy kernel over n rounded down to whole registers and
// finishes the tail in Go.
func axpysSIMD[T Float](c []T, add bool, coef []T, b []T, ldb int, lanes int, kernel func(c *T, n int, add bool, coef *T, k int, b *T, ldb int)) {
	n := len(c)
	if n < lanes || len(coef) == 0 {
		axpysGo(c, add, coef, b, ldb)
		return
	}
	_ = b[(len(coef)-1)*ldb+n-1]
	kernel(&c[0], n, add, &coef[0], len(coef), &b[0], ldb)
	if tail := n &^ (lanes - 1); tail < n {
		axpysGo(c[tail:], add, coef, b[tail:], ldb)
	}
}
