//go:build !amd64

package cpu

const hasSIMD = false

func dotsF32(out []float32, a []float32, lda int, b []float32) { dotsGo(out, a, lda, b) }
func axpysF32(c []float32, add bool, coef []float32, b []float32, ldb int) {
	axpysGo(c, add, coef, b, ldb)
}

func pixels[T Float](dst []T, src []uint8, lut *[256]T) { pixelsGo(dst, src, lut) }

func dotsF64(out []float64, a []float64, lda int, b []float64) { dotsGo(out, a, lda, b) }
func axpysF64(c []float64, add bool, coef []float64, b []float64, ldb int) {
	axpysGo(c, add, coef, b, ldb)
}

func dotBlockF32(out *[12]float32, a []float32, i, nr, lda int, b []float32, j, nc, ldb, k int) {
	dotBlockGo(out, a, i, nr, lda, b, j, nc, ldb, k)
}

func axpyRowsF32(c []float32, nr, ldc, n int, add bool, coef []float32, k int, b []float32, ldb int) {
	panic("axpyRowsF32 needs amd64") // never called: hasSIMD is false
}
