package cpu

// The AVX2/FMA kernels, simd_amd64.s and their declarations in
// simd_decl_amd64.go, are written by internal/asmgen, a module of its own
// that keeps avo out of this one's dependencies; edit the generator, then
// regenerate. "make check" fails while they differ from what it writes.
//go:generate go run -C internal/asmgen . ../..

// lanes is how many T one AVX2 register holds: what the kernels cover
// before the Go loops take the tail, and the shortest row they take.
func lanes[T Float]() int {
	var z T
	if _, ok := any(z).(float32); ok {
		return 8
	}
	return 4
}

// dotBlock computes a dotRows×dotCols block of dot products (see dotBlockGo).
func dotBlock[T Float](out *[dotRows * dotCols]T, a []T, i, nr, lda int, b []T, j, nc, ldb, k int) {
	if hasSIMD && k >= lanes[T]() {
		dotBlockSIMD(out, a, i, nr, lda, b, j, nc, ldb, k)
		return
	}
	dotBlockGo(out, a, i, nr, lda, b, j, nc, ldb, k)
}
