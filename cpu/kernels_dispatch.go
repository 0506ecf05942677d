package cpu

// dots and axpys pick the SIMD kernel where the CPU has one.
func dots[T Float](out []T, a []T, lda int, b []T) {
	if hasSIMD {
		switch o := any(out).(type) {
		case []float32:
			dotsF32(o, any(a).([]float32), lda, any(b).([]float32))
			return
		case []float64:
			dotsF64(o, any(a).([]float64), lda, any(b).([]float64))
			return
		}
	}
	dotsGo(out, a, lda, b)
}

func axpys[T Float](c []T, add bool, coef []T, b []T, ldb int) {
	if hasSIMD {
		switch o := any(c).(type) {
		case []float32:
			axpysF32(o, add, any(coef).([]float32), any(b).([]float32), ldb)
			return
		case []float64:
			axpysF64(o, add, any(coef).([]float64), any(b).([]float64), ldb)
			return
		}
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
