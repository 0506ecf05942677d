//go:build !amd64 && !arm64

package cpu

// vector: no vector kernels for this architecture; the plain Go twins run.
const vector = false

func kernelName() string { return "none" }

func pixels[T Float](dst []T, src []uint8, lut *[256]T) { pixelsGo(dst, src, lut) }

// dotBlockVec and axpyRowsVec are never called: vector is false.
func dotBlockVec[T Float](out *[12]T, a []T, i, nr, lda int, b []T, j, nc, ldb, k int) {
	dotBlockGo(false, out, a, i, nr, lda, b, j, nc, ldb, k)
}

func dotPairVec[T Float](out *[2 * dotRows * dotCols]T, a []T, i, nr, lda int, b []T, j, ldb, k int) bool {
	return false
}

func axpyRowsVec[T Float](c []T, nr, ldc, n int, add bool, beta *T, coef []T, k int, b []T, ldb int) {
	axpyRowsGo(false, c, nr, ldc, n, add, beta, coef, k, b, ldb)
}

// prefetchImages is a hint only: without the vector kernels it does nothing.
func prefetchImages(images []uint8, idx []int32) {}

func sigmoid32(d, a []float32) { sigmoid32Go(d, a) }
