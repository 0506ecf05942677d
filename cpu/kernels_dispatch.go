package cpu

// dots and axpys pick the SIMD kernel where the CPU has one.
func dots[T Float](out []T, a []T, lda int, b []T) {
	if hasSIMD {
		dotsSIMD(out, a, lda, b)
		return
	}
	dotsGo(out, a, lda, b)
}

func axpys[T Float](c []T, add bool, coef []T, b []T, ldb int) {
	if hasSIMD {
		axpysSIMD(c, add, coef, b, ldb)
		return
	}
	axpysGo(c, add, coef, b, ldb)
}

// dotBlock computes a dotRows×dotCols block of dot products (see dotBlockGo).
func dotBlock[T Float](out *[dotRows * dotCols]T, a []T, i, nr, lda int, b []T, j, nc, ldb, k int) {
	if hasSIMD && k >= 8 {
		dotBlockSIMD(out, a, i, nr, lda, b, j, nc, ldb, k)
		return
	}
	dotBlockGo(out, a, i, nr, lda, b, j, nc, ldb, k)
}
