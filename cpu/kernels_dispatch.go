package cpu

// dots and axpys pick the SIMD kernel for float32 where the CPU has one.
func dots[T Float](out []T, a []T, lda int, b []T) {
	if f, ok := any(out).([]float32); ok && hasSIMD {
		dotsF32(f, any(a).([]float32), lda, any(b).([]float32))
		return
	}
	dotsGo(out, a, lda, b)
}

func axpys[T Float](c []T, add bool, coef []T, b []T, ldb int) {
	if f, ok := any(c).([]float32); ok && hasSIMD {
		axpysF32(f, add, any(coef).([]float32), any(b).([]float32), ldb)
		return
	}
	axpysGo(c, add, coef, b, ldb)
}
