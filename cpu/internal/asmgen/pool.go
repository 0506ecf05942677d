package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 kernels of chapter 6's 2×2 max-pooling, forward and
// backward (simd_wide_amd64.s), with no AVX2 or NEON twins.

// poolBack2W is max-pooling's backward pass over 2×2 windows in float32,
// eight windows at a time: each window's gradient g goes to the first of
// its four inputs (top left, top right, bottom left, bottom right) that is
// larger than every one before it, as the op table's comparison loop
// picks it (−0 and 0 compare equal), and 0 to the other three. A row pair
// holding a NaN is left to the op table's kernel: the kernel returns the
// row pairs done before it. The loads and stores are masked to the row's
// 2·ow inputs, so a row's end needs no code of its own.
func poolBack2W(c *build.Context) {
	name := "poolBack2WF32"
	text(c, name, "func(d, b, grad *float32, rows, ow, w int) int",
		fmt.Sprintf("%s: for row pairs r < rows of w columns (d and b, 2·ow ≤ w) and their ow gradients grad, the max-pooling backward pass of 2×2 windows;", name),
		"it returns the row pairs done, fewer than rows where one holds a NaN (that pair untouched). AVX-512F.")
	load(c, "d b grad rows ow w", RDI, RSI, RDX, R13, R8, R9)
	poolRows(c, func() {
		c.VMOVUPS_Z(Mem{Base: RDX, Index: R10, Scale: 4}, K2, Z2)
		c.VCMPPS(U8(0x1e), Z3, Z4, K3) // v1 > v0
		c.VBLENDMPS(Z4, Z3, K3, Z7)    // the larger so far
		c.VCMPPS(U8(0x1e), Z7, Z5, K4) // v2 > it
		c.VBLENDMPS(Z5, Z7, K4, Z7)
		c.VCMPPS(U8(0x1e), Z7, Z6, K5) // v3 > it
		c.VADDPS(Z23, Z2, Z2)          // g + 0: −0 becomes 0, as added into a cleared buffer
		c.VMOVAPS_Z(Z2, K5, Z8)        // bottom right's
		c.KANDNW(K4, K5, K6)
		c.VMOVAPS_Z(Z2, K6, Z9) // bottom left's
		c.KORW(K4, K5, K6)
		c.KANDNW(K3, K6, K7)
		c.VMOVAPS_Z(Z2, K7, Z10) // top right's
		c.KORW(K3, K6, K6)
		c.KNOTW(K6, K6)
		c.VMOVAPS_Z(Z2, K6, Z11) // top left's
		c.VPERMT2PS(Z10, Z22, Z11)
		c.VPERMT2PS(Z8, Z22, Z9)
		c.VMOVUPS(Z11, K1, Mem{Base: RDI, Index: R10, Scale: 8})
		c.LEAQ(Mem{Base: RDI, Index: R9, Scale: 1}, R14)
		c.VMOVUPS(Z9, K1, Mem{Base: R14, Index: R10, Scale: 8})
	}, func() {
		c.LEAQ(Mem{Base: RDI, Index: R9, Scale: 2}, RDI)
		c.LEAQ(Mem{Base: RDX, Index: R8, Scale: 4}, RDX)
	})
}

// poolRows is the pool kernels' loop over row pairs (RAX of R13, the row
// R9 elements long, b at RSI) and their windows, eight at a time (R10 of
// R8): window is a kernel's work on the inputs of a group of windows,
// their top left, top right, bottom left and bottom right in Z3-Z6
// (masks K1 for 2n inputs, K2 for n windows; Z20-Z22 the lane tables, Z23
// zeros), and next moves its own pointers to the next row pair. A row
// pair holding a NaN ends the kernel, which returns the row pairs done.
func poolRows(c *build.Context, window, next func()) {
	c.SHLQ(U8(2), R9) // a row in bytes
	poolTables(c)
	c.VPXORD(Z23, Z23, Z23)
	c.XORQ(RAX, RAX)

	c.Label("row")
	c.CMPQ(RAX, R13)
	c.JGE(LabelRef("done"))
	c.XORQ(R10, R10) // window
	c.Label("win")
	c.CMPQ(R10, R8)
	c.JGE(LabelRef("next"))
	poolMasks(c)
	c.LEAQ(Mem{Base: RSI, Index: R9, Scale: 1}, R14)
	c.VMOVUPS_Z(Mem{Base: RSI, Index: R10, Scale: 8}, K1, Z0) // the top row's inputs
	c.VMOVUPS_Z(Mem{Base: R14, Index: R10, Scale: 8}, K1, Z1) // the bottom row's
	c.VPERMPS(Z0, Z20, Z3)
	c.VPERMPS(Z0, Z21, Z4)
	c.VPERMPS(Z1, Z20, Z5)
	c.VPERMPS(Z1, Z21, Z6)
	c.VCMPPS(U8(3), Z4, Z3, K3) // unordered: a NaN
	c.VCMPPS(U8(3), Z6, Z5, K4)
	c.KORTESTW(K4, K3)
	c.JNE(LabelRef("done"))
	window()
	c.ADDQ(U8(8), R10)
	c.JMP(LabelRef("win"))

	c.Label("next")
	c.LEAQ(Mem{Base: RSI, Index: R9, Scale: 2}, RSI)
	next()
	c.INCQ(RAX)
	c.JMP(LabelRef("row"))

	c.Label("done")
	c.Store(RAX, c.ReturnIndex(0))
	c.VZEROUPPER()
	c.RET()
}

// poolTables loads the pool kernels' lane tables: Z20 and Z21 the even and
// odd inputs of a row's eight windows (lanes 0-7; 8-15 repeat them), Z22
// the interleave of two tables' lanes 0-7.
func poolTables(c *build.Context) {
	if poolTableMems == nil {
		even, odd, inter := make([]uint32, 16), make([]uint32, 16), make([]uint32, 16)
		for i := range 16 {
			even[i], odd[i] = uint32(2*(i%8)), uint32(2*(i%8)+1)
			inter[i] = uint32(i/2 + 16*(i%2))
		}
		for _, t := range []struct {
			name string
			v    []uint32
		}{{"poolEven", even}, {"poolOdd", odd}, {"poolInter", inter}} {
			m := c.StaticGlobal(t.name)
			c.DataAttributes(attr.RODATA | attr.NOPTR)
			for _, v := range t.v {
				c.AppendDatum(U32(v))
			}
			poolTableMems = append(poolTableMems, m)
		}
	}
	for i, z := range []VecPhysical{Z20, Z21, Z22} {
		c.VMOVUPS(poolTableMems[i], z)
	}
}

// poolTableMems are the lane tables' data, written once for both kernels.
var poolTableMems []Mem

// poolMasks sets, for the windows from R10 of R8: K1 to mask their 2n
// inputs of a row and K2 their n outputs, n = min(8, R8 − R10).
func poolMasks(c *build.Context) {
	c.MOVQ(R8, R11)
	c.SUBQ(R10, R11)
	c.MOVQ(U32(8), R12)
	c.CMPQ(R11, R12)
	c.CMOVQGT(R12, R11)
	c.MOVQ(R11, RCX)
	c.MOVL(U32(1), R12L)
	c.SHLL(CL, R12L)
	c.DECL(R12L)
	c.KMOVW(R12L, K2)
	c.SHLQ(U8(1), RCX)
	c.MOVL(U32(1), R12L)
	c.SHLL(CL, R12L)
	c.DECL(R12L)
	c.KMOVW(R12L, K1)
}

// poolMax2W is max-pooling's forward pass over 2×2 windows in float32,
// eight windows at a time, as Go's max takes them: the largest input, 0
// rather than −0 where both are among the largest. VMAXPS returns its
// second operand where both are zeros, so a window whose largest is a
// zero is given 0 where any of its inputs is 0 (its bits all clear). A
// row pair holding a NaN is left to the op table's kernel, as in
// poolBack2W.
func poolMax2W(c *build.Context) {
	name := "poolMax2WF32"
	text(c, name, "func(d, b *float32, rows, ow, w int) int",
		fmt.Sprintf("%s: for row pairs r < rows of w columns (b, 2·ow ≤ w), d[r·ow+x] = the largest of window x, as Go's max gives it;", name),
		"it returns the row pairs done, fewer than rows where one holds a NaN (that pair untouched). AVX-512F.")
	load(c, "d b rows ow w", RDI, RSI, R13, R8, R9)
	poolRows(c, func() {
		c.VMAXPS(Z4, Z3, Z7)
		c.VMAXPS(Z5, Z7, Z7)
		c.VMAXPS(Z6, Z7, Z7)
		c.VPCMPEQD(Z23, Z3, K3) // an input that is 0, not −0
		c.VPCMPEQD(Z23, Z4, K4)
		c.KORW(K3, K4, K3)
		c.VPCMPEQD(Z23, Z5, K4)
		c.KORW(K3, K4, K3)
		c.VPCMPEQD(Z23, Z6, K4)
		c.KORW(K3, K4, K3)
		c.VCMPPS(U8(0), Z23, Z7, K4) // the largest is a zero
		c.KANDW(K3, K4, K3)
		c.VMOVAPS(Z23, K3, Z7)
		c.VMOVUPS(Z7, K2, Mem{Base: RDI, Index: R10, Scale: 4})
	}, func() {
		c.LEAQ(Mem{Base: RDI, Index: R8, Scale: 4}, RDI)
	})
}
