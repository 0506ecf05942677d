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

func dotBlockSIMD[T Float](out *[12]T, a []T, i, nr, lda int, b []T, j, nc, ldb, k int) {
	dotBlockGo(out, a, i, nr, lda, b, j, nc, ldb, k)
}

func axpyRowsSIMD[T Float](c []T, nr, ldc, n int, add bool, coef []T, k int, b []T, ldb int) {
	panic("axpyRowsSIMD needs amd64") // never called: hasSIMD is false
}

// prefetchImages is a hint only: without the amd64 kernels it does nothing.
func prefetchImages(images []uint8, idx []int32) {}
