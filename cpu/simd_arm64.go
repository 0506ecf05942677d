package cpu

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
