package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 kernels of addrow and sumrows: a layer's bias added to
// every row, and a δ's rows summed into its bias gradient. A layer's
// rows are short (30 wide in the book's network), so a call per row of
// the AVX2 add cost more than the Go loop; these take the whole matrix in
// one call, a Z register of columns at a time, the last one masked. Each
// element is the op table's IEEE operations in its order, so the bits are
// the op table's.

// rowChunks loops over n (RCX) columns a Z register at a time: before
// each, K1 masks the columns left (all of the register but the last
// time), RAX is the chunk's offset in bytes and R10 the columns left.
// body runs once per chunk.
func rowChunks(c *build.Context, e elem, body func()) {
	full := 2 * e.lanes
	c.XORQ(RAX, RAX)
	c.MOVQ(RCX, R10)
	c.Label("chunk")
	c.TESTQ(R10, R10)
	c.JZ(LabelRef("done"))
	c.MOVL(U32(uint32(1)<<full-1), EDX)
	c.CMPQ(R10, U8(full))
	c.JGE(LabelRef("mask"))
	c.MOVL(U32(1), EDX)
	c.MOVQ(R10, RCX)
	c.SHLL(CL, EDX)
	c.DECL(EDX)
	c.Label("mask")
	c.KMOVW(EDX, K1)
	body()
	c.ADDQ(U8(64), RAX)
	c.SUBQ(U8(full), R10)
	c.JA(LabelRef("chunk"))
	c.Label("done")
	c.VZEROUPPER()
	c.RET()
}

// addRowW sets d[r·n+j] = a[r·lda+j] + b[j] for r < rows and j < n: Go's
// a + b, a the first operand.
func addRowW(c *build.Context, e elem) {
	name := "addRowW" + e.suffix
	text(c, name, fmt.Sprintf("func(d, a *%s, lda int, b *%[1]s, rows, n int)", e.goType),
		fmt.Sprintf("%s sets d[r·n+j] = a[r·lda+j] + b[j] for r < rows, j < n.", name))
	load(c, "d a lda b rows n", RDI, RSI, R8, R9, R11, RCX)
	c.SHLQ(Imm(e.shift), R8)
	c.MOVQ(RCX, R15)
	c.SHLQ(Imm(e.shift), R15) // d's row in bytes
	movz, add, store := c.VMOVUPS_Z, c.VADDPS, c.VMOVUPS
	if e.size == 8 {
		movz, add, store = c.VMOVUPD_Z, c.VADDPD, c.VMOVUPD
	}
	rowChunks(c, e, func() {
		movz(Mem{Base: R9, Index: RAX, Scale: 1}, K1, Z1)
		c.LEAQ(Mem{Base: RSI, Index: RAX, Scale: 1}, R12)
		c.LEAQ(Mem{Base: RDI, Index: RAX, Scale: 1}, R13)
		c.MOVQ(R11, R14)
		c.Label("addrow")
		movz(Mem{Base: R12}, K1, Z0)
		add(Z1, Z0, Z0)
		store(Z0, K1, Mem{Base: R13})
		c.ADDQ(R8, R12)
		c.ADDQ(R15, R13)
		c.DECQ(R14)
		c.JNZ(LabelRef("addrow"))
	})
}

// sumRowsW sets d[j] = α·s_j, or α·s_j rounded plus β·d[j] rounded where
// beta is not nil, with s_j = a[0·n+j] + a[1·n+j] + … summed from zero in
// row order, as the op table's loop sums each column.
func sumRowsW(c *build.Context, e elem) {
	name := "sumRowsW" + e.suffix
	text(c, name, fmt.Sprintf("func(d, a *%s, rows, n int, alpha %[1]s, beta *%[1]s)", e.goType),
		fmt.Sprintf("%s sets d[j] = α·Σᵣ a[r·n+j] (+ β·d[j] where beta is not nil) for j < n.", name))
	load(c, "d a rows n beta", RDI, RSI, R11, RCX, R9)
	p, err := c.Param("alpha").Resolve()
	if err != nil {
		panic(err) // the signature above has it
	}
	movz, add, mul, store, bcast := c.VMOVUPS_Z, c.VADDPS, c.VMULPS, c.VMOVUPS, c.VBROADCASTSS
	if e.size == 8 {
		movz, add, mul, store, bcast = c.VMOVUPD_Z, c.VADDPD, c.VMULPD, c.VMOVUPD, c.VBROADCASTSD
	}
	bcast(p.Addr, Z2)
	c.MOVQ(RCX, R15)
	c.SHLQ(Imm(e.shift), R15) // a's row in bytes
	rowChunks(c, e, func() {
		c.VPXORD(Z0, Z0, Z0)
		c.LEAQ(Mem{Base: RSI, Index: RAX, Scale: 1}, R12)
		c.MOVQ(R11, R14)
		c.Label("sumrow")
		movz(Mem{Base: R12}, K1, Z1)
		add(Z1, Z0, Z0)
		c.ADDQ(R15, R12)
		c.DECQ(R14)
		c.JNZ(LabelRef("sumrow"))
		mul(Z0, Z2, Z0) // α·s, α the first operand as in Go
		c.TESTQ(R9, R9)
		c.JZ(LabelRef("sumstore"))
		bcast(Mem{Base: R9}, Z3)
		movz(Mem{Base: RDI, Index: RAX, Scale: 1}, K1, Z1)
		mul(Z1, Z3, Z1) // β·d
		add(Z1, Z0, Z0)
		c.Label("sumstore")
		store(Z0, K1, Mem{Base: RDI, Index: RAX, Scale: 1})
	})
}
