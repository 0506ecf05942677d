package cpu

import (
	"golang.org/x/sys/cpu"

	"github.com/gputrain/gputrain/graph"
)

// vector: the AVX2/FMA kernels need both (Haswell, Zen and later).
var vector = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// wide: the products' kernels run as their AVX-512 twins (simd_wide_amd64.s),
// which give the same bits at up to twice the multiply-adds a cycle, where
// the CPU and the OS have AVX-512 (Zen 4 and 5, Intel since Skylake-SP).
// A variable, so that the tests check both kernels on one machine.
var wide = vector && cpu.X86.HasAVX512F

// kernelName names the vector kernels for gputrain version.
func kernelName() string {
	if wide {
		return "AVX-512 (products, max-pooling), AVX2+FMA"
	}
	return "AVX2+FMA"
}

// The products' kernels, AVX2 or AVX-512 as the CPU allows.

// dotKernelF32 and dotKernelF64 report whether they added the elements
// past k&^(lanes−1) too (the AVX-512 kernels do, as dotTail would).
func dotKernelF32(a0, a1, a2, a3, b0, b1, b2 *float32, k int, out *[12]float32) (tail bool) {
	if wide {
		dot4x3WF32(a0, a1, a2, a3, b0, b1, b2, k, out)
		return true
	}
	dot4x3F32(a0, a1, a2, a3, b0, b1, b2, k, out)
	return false
}

func dotKernelF64(a0, a1, a2, a3, b0, b1, b2 *float64, k int, out *[12]float64) (tail bool) {
	if wide {
		dot4x3WF64(a0, a1, a2, a3, b0, b1, b2, k, out)
		return true
	}
	dot4x3F64(a0, a1, a2, a3, b0, b1, b2, k, out)
	return false
}

// dotPairVec computes two dotBlockVec blocks side by side, columns j to
// j+2 into out[:12] and j+3 to j+5 into out[12:], with one kernel where
// the CPU has AVX-512; it reports false, having done nothing, elsewhere.
func dotPairVec[T Float](out *[2 * dotRows * dotCols]T, a []T, i, nr, lda int, b []T, j, ldb, k int) bool {
	if !wide {
		return false
	}
	var ar [4]*T
	var br [6]*T
	rowStarts(ar[:], a, i, nr, lda, k)
	rowStarts(br[:], b, j, len(br), ldb, k)
	// Two rows or fewer (a batch of 10's last block) take the kernel that
	// leaves the second row pair out. Called directly: a kernel held in a
	// variable would make out escape, and a step allocate.
	switch o := any(out).(type) {
	case *[24]float32:
		p := func(x *T) *float32 { return any(x).(*float32) }
		if nr <= 2 {
			dot2x6WF32(p(ar[0]), p(ar[1]), p(ar[2]), p(ar[3]), p(br[0]), p(br[1]), p(br[2]), p(br[3]), p(br[4]), p(br[5]), k, o)
		} else {
			dot4x6WF32(p(ar[0]), p(ar[1]), p(ar[2]), p(ar[3]), p(br[0]), p(br[1]), p(br[2]), p(br[3]), p(br[4]), p(br[5]), k, o)
		}
	case *[24]float64:
		p := func(x *T) *float64 { return any(x).(*float64) }
		if nr <= 2 {
			dot2x6WF64(p(ar[0]), p(ar[1]), p(ar[2]), p(ar[3]), p(br[0]), p(br[1]), p(br[2]), p(br[3]), p(br[4]), p(br[5]), k, o)
		} else {
			dot4x6WF64(p(ar[0]), p(ar[1]), p(ar[2]), p(ar[3]), p(br[0]), p(br[1]), p(br[2]), p(br[3]), p(br[4]), p(br[5]), k, o)
		}
	}
	return true
}

// hasDotTen reports whether dotTenVec has a kernel: AVX-512's.
func hasDotTen() bool { return wide }

// dotTenVec sets out[ldo·r+c] = A[i+r,:]·B[j+c,:] for r < 10, c < 4 with
// the AVX-512 kernel and reports true, or reports false where there is
// none.
func dotTenVec[T Float](out []T, ldo int, a []T, i, lda int, b []T, j, ldb, k int) bool {
	if !wide {
		return false
	}
	_, _, _ = a[(i+dotTenRows-1)*lda+k-1], b[(j+dotTenCols-1)*ldb+k-1], out[(dotTenRows-1)*ldo+dotTenCols-1]
	switch o := any(out).(type) {
	case []float32:
		dot10x4WF32(any(&a[i*lda]).(*float32), lda, any(&b[j*ldb]).(*float32), ldb, k, &o[0], ldo)
	case []float64:
		dot10x4WF64(any(&a[i*lda]).(*float64), lda, any(&b[j*ldb]).(*float64), ldb, k, &o[0], ldo)
	}
	return true
}

// axpyKernelF32 and axpyKernelF64 report whether they computed the columns
// past n&^(lanes−1) too (the AVX-512 kernels do, as axpyTail would).
func axpyKernelF32(c0, c1, c2, c3 *float32, n int, add bool, beta, coef *float32, k int, b *float32, ldb int) (tail bool) {
	if wide {
		axpy4WF32(c0, c1, c2, c3, n, add, beta, coef, k, b, ldb)
		return true
	}
	axpy4F32(c0, c1, c2, c3, n, add, beta, coef, k, b, ldb)
	return false
}

func axpyKernelF64(c0, c1, c2, c3 *float64, n int, add bool, beta, coef *float64, k int, b *float64, ldb int) (tail bool) {
	if wide {
		axpy4WF64(c0, c1, c2, c3, n, add, beta, coef, k, b, ldb)
		return true
	}
	axpy4F64(c0, c1, c2, c3, n, add, beta, coef, k, b, ldb)
	return false
}

// poolBack2Rows is max-pooling's backward pass for 2×2 windows over rows
// row pairs of w columns (d and b) and their ow gradients each (g), with
// the AVX-512 kernel: it returns the row pairs done, stopping before one
// that holds a NaN, or 0 where the CPU has no AVX-512.
func poolBack2Rows(d, b, g []float32, rows, ow, w int) int {
	if !poolKernel() || rows == 0 || ow == 0 {
		return 0
	}
	_, _, _ = d[rows*2*w-1], b[rows*2*w-1], g[rows*ow-1]
	return poolBack2WF32(&d[0], &b[0], &g[0], rows, ow, w)
}

// poolKernel reports whether poolBack2Rows has a kernel here.
func poolKernel() bool { return wide }

// poolMax2Rows is max-pooling's forward pass for 2×2 windows over rows row
// pairs of w columns (b), ow outputs each (d), with the AVX-512 kernel: it
// returns the row pairs done, stopping before one that holds a NaN.
func poolMax2Rows(d, b []float32, rows, ow, w int) int {
	if !poolKernel() || rows == 0 || ow == 0 {
		return 0
	}
	_, _ = d[rows*ow-1], b[rows*2*w-1]
	return poolMax2WF32(&d[0], &b[0], rows, ow, w)
}

// hasRowKernels reports whether addRowsVec and sumRowsVec have kernels:
// AVX-512's.
func hasRowKernels() bool { return wide }

// addRowsVec sets d[r·n+j] = a[r·lda+j] + b[j] for r < rows and j < n =
// len(b) with the AVX-512 kernel and reports true, or reports false,
// having done nothing, where there is none.
func addRowsVec[T Float](d, a []T, lda int, b []T, rows int) bool {
	n := len(b)
	if !wide || rows < 1 || n < 1 {
		return false
	}
	_, _ = d[rows*n-1], a[(rows-1)*lda+n-1]
	switch dd := any(d).(type) {
	case []float32:
		addRowWF32(&dd[0], any(&a[0]).(*float32), lda, any(&b[0]).(*float32), rows, n)
	case []float64:
		addRowWF64(&dd[0], any(&a[0]).(*float64), lda, any(&b[0]).(*float64), rows, n)
	}
	return true
}

// sumRowsVec is the op table's sumrows, d = α·Σᵣ a[r,:] (+ β·d unless β
// is 0), with the AVX-512 kernel, reporting true; or false, having done
// nothing, where there is none or a is not whole rows of len(d).
func sumRowsVec[T Float](d, a []T, alpha, beta T) bool {
	n := len(d)
	if !wide || n < 1 || len(a) < n || len(a)%n != 0 {
		return false
	}
	var bp *T
	if beta != 0 {
		bp = &beta
	}
	switch dd := any(d).(type) {
	case []float32:
		sumRowsWF32(&dd[0], any(&a[0]).(*float32), len(a)/n, n, any(alpha).(float32), any(bp).(*float32))
	case []float64:
		sumRowsWF64(&dd[0], any(&a[0]).(*float64), len(a)/n, n, any(alpha).(float64), any(bp).(*float64))
	}
	return true
}

// elementwise32 and elementwise64 are the AVX2 element-wise kernels.
var (
	elementwise32 = elementwiseSet(addF32, subF32, mulF32, affineF32, 8)
	elementwise64 = elementwiseSet(addF64, subF64, mulF64, affineF64, 4)
)

// elementwiseKernels returns the element-wise kernels of each dtype, nil
// without AVX2.
func elementwiseKernels() (map[graph.Op]graph.Kernel[float32], map[graph.Op]graph.Kernel[float64]) {
	if !vector {
		return nil, nil
	}
	return elementwise32, elementwise64
}
