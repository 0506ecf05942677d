//go:build !amd64

package cpu

import "github.com/gputrain/gputrain/graph"

// What only amd64 has kernels for (AVX-512's pooling, ten-row products and
// row ops; AVX2's element-wise ops), for arm64 and the plain-Go
// architectures alike: the callers then take the op table's kernels or the
// four-row blocks.

// poolBack2Rows and poolMax2Rows have no kernels here: max-pooling is the
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
