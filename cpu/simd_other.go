//go:build !amd64

package cpu

import "github.com/gputrain/gputrain/graph"

const hasSIMD = false

func pixels[T Float](dst []T, src []uint8, lut *[256]T) { pixelsGo(dst, src, lut) }

func dotBlockSIMD[T Float](out *[12]T, a []T, i, nr, lda int, b []T, j, nc, ldb, k int) {
	dotBlockGo(out, a, i, nr, lda, b, j, nc, ldb, k)
}

func axpyRowsSIMD[T Float](c []T, nr, ldc, n int, add bool, beta *T, coef []T, k int, b []T, ldb int) {
	panic("axpyRowsSIMD needs amd64") // never called: hasSIMD is false
}

// prefetchImages is a hint only: without the amd64 kernels it does nothing.
func prefetchImages(images []uint8, idx []int32) {}

func sigmoid32(d, a []float32) { graph.SigmoidKernel(d, a, nil, 0, 0) }
