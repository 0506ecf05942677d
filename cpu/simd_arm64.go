package cpu

import "github.com/gputrain/gputrain/graph"

// vector: every arm64 CPU has ASIMD (NEON), FMLA included.
const vector = true

// kernelName names the vector kernels for gputrain version.
func kernelName() string { return "NEON" }

// The products' kernels: NEON's only.

func dotKernelF32(a0, a1, a2, a3, b0, b1, b2 *float32, k int, out *[12]float32) (tail bool) {
	dot4x3F32(a0, a1, a2, a3, b0, b1, b2, k, out)
	return false
}

func dotKernelF64(a0, a1, a2, a3, b0, b1, b2 *float64, k int, out *[12]float64) (tail bool) {
	dot4x3F64(a0, a1, a2, a3, b0, b1, b2, k, out)
	return false
}

// dotPairVec has no NEON kernel: dotPair takes its two blocks one by one.
func dotPairVec[T Float](out *[2 * dotRows * dotCols]T, a []T, i, nr, lda int, b []T, j, ldb, k int) bool {
	return false
}

func axpyKernelF32(c0, c1, c2, c3 *float32, n int, add bool, beta, coef *float32, k int, b *float32, ldb int) (tail bool) {
	axpy4F32(c0, c1, c2, c3, n, add, beta, coef, k, b, ldb)
	return false
}

func axpyKernelF64(c0, c1, c2, c3 *float64, n int, add bool, beta, coef *float64, k int, b *float64, ldb int) (tail bool) {
	axpy4F64(c0, c1, c2, c3, n, add, beta, coef, k, b, ldb)
	return false
}

// poolBack2Rows and poolMax2Rows have no NEON kernels: max-pooling is the
// op table's.
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
