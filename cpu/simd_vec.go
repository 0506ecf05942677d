//go:build amd64 || arm64

package cpu

import "github.com/gputrain/gputrain/mnist"

// The wrappers of the vector kernels, which have the same names and
// arguments on amd64 (AVX2) and arm64 (NEON).

// pixels converts bytes to p/255.
func pixels[T Float](dst []T, src []uint8, lut *[256]T) {
	n := len(src)
	if !vector || n < 8 {
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

// dotBlockVec: out[3r+c] = a[(i+r)·lda:]·b[(j+c)·ldb:] over k, for r < nr ≤ 4,
// c < nc ≤ 3. The kernel is picked by a type switch, not passed as a
// function value, which would make out escape: a step would allocate.
func dotBlockVec[T Float](out *[12]T, a []T, i, nr, lda int, b []T, j, nc, ldb, k int) {
	var ar [4]*T
	var br [3]*T
	rowStarts(ar[:], a, i, nr, lda, k)
	rowStarts(br[:], b, j, nc, ldb, k)
	var tail bool
	switch o := any(out).(type) {
	case *[12]float32:
		p := func(x *T) *float32 { return any(x).(*float32) }
		tail = dotKernelF32(p(ar[0]), p(ar[1]), p(ar[2]), p(ar[3]), p(br[0]), p(br[1]), p(br[2]), k, o)
	case *[12]float64:
		p := func(x *T) *float64 { return any(x).(*float64) }
		tail = dotKernelF64(p(ar[0]), p(ar[1]), p(ar[2]), p(ar[3]), p(br[0]), p(br[1]), p(br[2]), k, o)
	}
	if !tail {
		dotTail(out, a, i, nr, lda, b, j, nc, ldb, k)
	}
}

// rowStarts points p at the starts of rows i, i+1, … of x (row stride
// ld, k elements each), n of them; the spare slots past n repeat the last
// row: computed, never stored.
func rowStarts[T Float](p []*T, x []T, i, n, ld, k int) {
	for r := range p {
		t := i + min(r, n-1)
		p[r] = &x[t*ld : t*ld+k][0]
	}
}

// axpyRowsVec updates nr ≤ 4 rows of C (row stride ldc, n columns) at once:
// row r gets Σₜ coef[4t+r]·b[t·ldb:], added to β times itself when add (β
// = *beta, or 1 where beta is nil); coef holds k interleaved quadruples.
func axpyRowsVec[T Float](c []T, nr, ldc, n int, add bool, beta *T, coef []T, k int, b []T, ldb int) {
	var rows [4]*T
	for r := range rows {
		rows[r] = &c[min(r, nr-1)*ldc : min(r, nr-1)*ldc+n][0]
	}
	_ = b[(k-1)*ldb+n-1]
	_ = coef[4*k-1]
	var tail bool
	switch cf := any(coef).(type) {
	case []float32:
		p := func(x *T) *float32 { return any(x).(*float32) }
		var bp *float32
		if beta != nil {
			bp = p(beta)
		}
		tail = axpyKernelF32(p(rows[0]), p(rows[1]), p(rows[2]), p(rows[3]), n, add, bp, &cf[0], k, p(&b[0]), ldb)
	case []float64:
		p := func(x *T) *float64 { return any(x).(*float64) }
		var bp *float64
		if beta != nil {
			bp = p(beta)
		}
		tail = axpyKernelF64(p(rows[0]), p(rows[1]), p(rows[2]), p(rows[3]), n, add, bp, &cf[0], k, p(&b[0]), ldb)
	}
	if !tail {
		axpyTail(c, nr, ldc, n, add, beta, coef, k, b, ldb)
	}
}

// prefetchImages starts loading the images of idx into the cache, so that
// the next mini-batch's gather, a random walk over 39 MB of pixels, finds
// them there instead of stalling on memory while the CPU is idle.
func prefetchImages(images []uint8, idx []int32) {
	if images == nil {
		return // a set of float pixels (the book's pickle)
	}
	const n = mnist.Pixels
	for _, i := range idx {
		prefetch(&images[int(i)*n : (int(i)+1)*n][0], n)
	}
}

// sigmoid32 is σ over float32 slices with the eight-lane kernel. The ragged
// end goes through the kernel too, from a padded copy, so that a value does
// not depend on where a split over the cores puts it.
func sigmoid32(d, a []float32) {
	if !vector {
		sigmoid32Go(d, a)
		return
	}
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
