package cpu

import "golang.org/x/sys/cpu"

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
		return "AVX-512 (products), AVX2+FMA"
	}
	return "AVX2+FMA"
}

// The products' kernels, AVX2 or AVX-512 as the CPU allows.

func dotKernelF32(a0, a1, a2, a3, b0, b1, b2 *float32, k int, out *[12]float32) {
	if wide {
		dot4x3WF32(a0, a1, a2, a3, b0, b1, b2, k, out)
		return
	}
	dot4x3F32(a0, a1, a2, a3, b0, b1, b2, k, out)
}

func dotKernelF64(a0, a1, a2, a3, b0, b1, b2 *float64, k int, out *[12]float64) {
	if wide {
		dot4x3WF64(a0, a1, a2, a3, b0, b1, b2, k, out)
		return
	}
	dot4x3F64(a0, a1, a2, a3, b0, b1, b2, k, out)
}

func axpyKernelF32(c0, c1, c2, c3 *float32, n int, add bool, beta, coef *float32, k int, b *float32, ldb int) {
	if wide {
		axpy4WF32(c0, c1, c2, c3, n, add, beta, coef, k, b, ldb)
		return
	}
	axpy4F32(c0, c1, c2, c3, n, add, beta, coef, k, b, ldb)
}

func axpyKernelF64(c0, c1, c2, c3 *float64, n int, add bool, beta, coef *float64, k int, b *float64, ldb int) {
	if wide {
		axpy4WF64(c0, c1, c2, c3, n, add, beta, coef, k, b, ldb)
		return
	}
	axpy4F64(c0, c1, c2, c3, n, add, beta, coef, k, b, ldb)
}
