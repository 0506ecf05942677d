package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 twins of dot4x3 and axpy4, for CPUs whose 512-bit FMAs do
// twice the work of two 256-bit ones. They compute every result as the
// AVX2 kernels do, bit for bit, so that a model does not depend on the
// machine that trained it:
//   - axpy4W sums each column's terms in the same order; a Z register just
//     covers twice the columns (then a Y register takes what is left of
//     n&^(lanes−1), as axpy4's last pass does);
//   - dot4x3W keeps dot4x3's eight (four) lanes per dot product: each Z
//     register holds two rows' accumulators, one a half, so the lanes see
//     the same elements in the same order, and the halves are taken apart
//     into dot4x3's twelve Y registers before its reduction.
// They live in a file of their own (simd_wide_amd64.s), as arm64 has no
// twin for them.

var zs = []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15}

// wideKernels builds every function of simd_wide_amd64.s.
func wideKernels(c *build.Context) {
	for _, e := range []elem{f32(c), f64(c)} {
		dot4x3W(c, e)
		axpy4W(c, e)
	}
}

// dot4x3W is dot4x3 with two rows per Z register: rows 0 and 1 in Z(c)'s
// halves, rows 2 and 3 in Z(6+c)'s, for column c. Each column's chunk is
// broadcast to both halves.
func dot4x3W(c *build.Context, e elem) {
	name := "dot4x3W" + e.suffix
	text(c, name, fmt.Sprintf("func(a0, a1, a2, a3, b0, b1, b2 *%s, k int, out *[12]%[1]s)", e.goType),
		fmt.Sprintf("%s is dot4x3%s on AVX-512, bit for bit: out[3r+c] = aᵣ·b_c over the first k&^%d elements.", name, e.suffix, e.lanes-1))
	a, b := dotStart(c, e)

	c.Label("loop")
	c.CMPQ(RAX, RCX)
	c.JGE(LabelRef("split"))
	for col, r := range b {
		c.VBROADCASTF64X4(Mem{Base: r, Index: RAX, Scale: 1}, zs[12+col])
	}
	for pair := 0; pair < 2; pair++ {
		e.mov(Mem{Base: a[2*pair], Index: RAX, Scale: 1}, Y15) // clears Z15's upper half
		c.VINSERTF64X4(U8(1), Mem{Base: a[2*pair+1], Index: RAX, Scale: 1}, Z15, Z15)
		for col := range b {
			e.fma(zs[12+col], Z15, zs[6*pair+col])
		}
	}
	c.ADDQ(U8(32), RAX)
	c.JMP(LabelRef("loop"))

	// Row 2·pair+1's accumulators, the upper halves, to dot4x3's registers.
	c.Label("split")
	for pair := 0; pair < 2; pair++ {
		for col := range b {
			c.VEXTRACTF64X4(U8(1), zs[6*pair+col], ys[6*pair+3+col])
		}
	}
	dotReduce(c, e)
}

// axpy4W is axpy4 three and then one Z register of each row at a time,
// then one Y register.
func axpy4W(c *build.Context, e elem) {
	name := "axpy4W" + e.suffix
	text(c, name, fmt.Sprintf("func(c0, c1, c2, c3 *%s, n int, add bool, beta *%[1]s, coef *%[1]s, k int, b *%[1]s, ldb int)", e.goType),
		fmt.Sprintf("%s is axpy4%s on AVX-512, bit for bit.", name, e.suffix))
	axpyBody(c, e, []axpyPass{{3, zs, "three"}, {1, zs, "onez"}, {1, ys, "one"}})
}
