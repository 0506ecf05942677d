package cpu

// The AVX2/FMA kernels, simd_amd64.s and their declarations in
// simd_decl_amd64.go, are written by internal/asmgen, a module of its own
// that keeps avo out of this one's dependencies; the NEON kernels,
// simd_arm64.s and simd_decl_arm64.go, by the same command from the same
// plan of each kernel. Edit the generator, then regenerate. "make check"
// fails while they differ from what it writes.
//go:generate go run -C internal/asmgen . ../..

// hasSIMD says the vector kernels' σ is in use, which it is on every
// machine now: the vector kernel where the CPU has one (vector), else its
// plain Go twin, which gives the same bits (kernels_generic.go).
// machine.go's σ reads it.
const hasSIMD = true

// lanes is how many T one vector of the kernels holds (an AVX2 register,
// or two NEON registers): what the kernels cover before the Go loops take
// the tail, and the shortest row they take.
func lanes[T Float]() int {
	var z T
	if _, ok := any(z).(float32); ok {
		return 8
	}
	return 4
}

// dotBlock computes a dotRows×dotCols block of dot products (see dotBlockGo).
func dotBlock[T Float](out *[dotRows * dotCols]T, a []T, i, nr, lda int, b []T, j, nc, ldb, k int) {
	if vector && k >= lanes[T]() {
		dotBlockVec(out, a, i, nr, lda, b, j, nc, ldb, k)
		return
	}
	dotBlockGo(false, out, a, i, nr, lda, b, j, nc, ldb, k)
}

// dotPair computes two dotBlock blocks of full width side by side,
// columns j to j+2 into out[:12] and j+3 to j+5 into out[12:], in one pass
// where the CPU has a kernel for it (the same bits as two blocks).
func dotPair[T Float](out *[2 * dotRows * dotCols]T, a []T, i, nr, lda int, b []T, j, ldb, k int) {
	if vector && k >= lanes[T]() && dotPairVec(out, a, i, nr, lda, b, j, ldb, k) {
		return
	}
	half := dotRows * dotCols
	dotBlock((*[dotRows * dotCols]T)(out[:half]), a, i, nr, lda, b, j, dotCols, ldb, k)
	dotBlock((*[dotRows * dotCols]T)(out[half:]), a, i, nr, lda, b, j+dotCols, dotCols, ldb, k)
}

// axpyRows updates nr ≤ 4 rows of C at once (see axpyRowsGo).
func axpyRows[T Float](c []T, nr, ldc, n int, add bool, beta *T, coef []T, k int, b []T, ldb int) {
	if vector {
		axpyRowsVec(c, nr, ldc, n, add, beta, coef, k, b, ldb)
		return
	}
	axpyRowsGo(false, c, nr, ldc, n, add, beta, coef, k, b, ldb)
}
