//go:build !amd64 && !arm64

package cpu

import "github.com/gputrain/gputrain/graph"

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

func poolBack2Rows(d, b, g []float32, rows, ow, w int) int { return 0 }

func poolMax2Rows(d, b []float32, rows, ow, w int) int { return 0 }

func poolKernel() bool { return false }

// hasDotTen: dotTenVec has no kernel here; dotForm takes its four-row blocks.
func hasDotTen() bool { return false }

func dotTenVec[T Float](out []T, ldo int, a []T, i, lda int, b []T, j, ldb, k int) bool {
	return false
}

// hasRowKernels: addRowsVec and sumRowsVec have none here.
func hasRowKernels() bool { return false }

// addRowsVec: no kernel here; the op table's Go loop runs.
func addRowsVec[T Float](d, a []T, lda int, b []T, rows int) bool { return false }

// sumRowsVec: no kernel here; the op table's Go loop runs.
func sumRowsVec[T Float](d, a []T, alpha, beta T) bool { return false }

// elementwiseKernels: none here; the op table's Go kernels run.
func elementwiseKernels() (map[graph.Op]graph.Kernel[float32], map[graph.Op]graph.Kernel[float64]) {
	return nil, nil
}
