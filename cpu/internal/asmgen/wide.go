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
// twin for them; so do dot10x4W, which has no AVX2 twin (elsewhere the
// four-row blocks run), and max-pooling's kernels (pool.go), which have no
// AVX2 or NEON twin: elsewhere the op table's Go kernels run.

var zs = []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15}

// wideKernels builds every function of simd_wide_amd64.s.
func wideKernels(c *build.Context) {
	poolTableMems = nil // this context's own
	for _, e := range []elem{f32(c), f64(c)} {
		dot4x3W(c, e)
		dot4x6W(c, e)
		dot2x6W(c, e)
		dot10x4W(c, e)
		axpy4W(c, e)
		addRowW(c, e)
		sumRowsW(c, e)
	}
	poolBack2W(c)
	poolMax2W(c)
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
	dotTailW(c, e, dotSums(c, e), a, b, R13, 0)
	c.VZEROUPPER()
	c.RET()
}

// dot4x6W is two dot4x3W blocks side by side, columns 0–2 and 3–5 of the
// same four rows, in one pass: each row pair's chunk is loaded once for
// six columns, and the twelve accumulators (a Z register per row pair and
// column: Z0–Z2, Z6–Z8 and Z16–Z21) give each FMA chain the time its
// latency needs, where dot4x3W's six left the FMA units idle. Each dot
// product's lanes and order are dot4x3W's, so the bits are too. out holds
// the two blocks one after the other, each as dot4x3W's out.
func dot4x6W(c *build.Context, e elem) {
	name := "dot4x6W" + e.suffix
	text(c, name, fmt.Sprintf("func(a0, a1, a2, a3, b0, b1, b2, b3, b4, b5 *%s, k int, out *[24]%[1]s)", e.goType),
		fmt.Sprintf("%s is dot4x3W%s for columns b0–b2 (out[:12]) and b3–b5 (out[12:]) in one pass.", name, e.suffix))
	dotx6W(c, e, 2)
}

// dot2x6W is dot4x6W for two rows, a block's last at a batch of 10: the
// second row pair's loads and FMAs are left out, not repeated.
func dot2x6W(c *build.Context, e elem) {
	name := "dot2x6W" + e.suffix
	text(c, name, fmt.Sprintf("func(a0, a1, a2, a3, b0, b1, b2, b3, b4, b5 *%s, k int, out *[24]%[1]s)", e.goType),
		fmt.Sprintf("%s is dot4x6W%s for rows a0 and a1 alone: out's rows 2 and 3 hold nothing of use (a2 and a3 must point at k elements, read by the tail).", name, e.suffix))
	dotx6W(c, e, 1)
}

// dot10x4W computes forty dot products, ten rows of A (stride lda) by
// four of B (stride ldb), over k elements: a batch of ten's whole forward
// block in one pass. It stores them in rows of ldo elements: a block of C
// itself where the product keeps its sums as they are (α 1, β 0), which
// saved copying them there from a block of forty. Here a Z register holds two columns' accumulators,
// one a half, and each row's chunk is broadcast to both halves; so ten
// broadcasts and two row-pair loads feed twenty FMAs, where dot4x6W's ten
// loads fed twelve. Each dot product's lanes, order, reduction and tail
// are dot4x3's and dotTail's, so are its bits.
func dot10x4W(c *build.Context, e elem) {
	name := "dot10x4W" + e.suffix
	text(c, name, fmt.Sprintf("func(a *%s, lda int, b *%[1]s, ldb int, k int, out *%[1]s, ldo int)", e.goType),
		fmt.Sprintf("%s sets out[ldo·r+c] = aᵣ·b_c for r < 10, c < 4 over k elements.", name))
	// Rows 0–4 from SI, 5–9 from DI, at 0, L, 2L, 3L and 4L (L = lda in
	// bytes, R8; 3L in R9); B's rows from R10 at 0, M, 2M and 3M (R11, R12).
	load(c, "a lda b ldb k out", RSI, R8, R10, R11, RCX, RDX)
	c.SHLQ(Imm(e.shift), R8)
	c.SHLQ(Imm(e.shift), R11)
	c.LEAQ(Mem{Base: R8, Index: R8, Scale: 2}, R9)
	c.LEAQ(Mem{Base: R11, Index: R11, Scale: 2}, R12)
	c.LEAQ(Mem{Base: RSI, Index: R8, Scale: 4}, RDI)
	c.ADDQ(R8, RDI)
	rows := []Mem{
		{Base: RSI}, {Base: RSI, Index: R8, Scale: 1}, {Base: RSI, Index: R8, Scale: 2}, {Base: RSI, Index: R9, Scale: 1}, {Base: RSI, Index: R8, Scale: 4},
		{Base: RDI}, {Base: RDI, Index: R8, Scale: 1}, {Base: RDI, Index: R8, Scale: 2}, {Base: RDI, Index: R9, Scale: 1}, {Base: RDI, Index: R8, Scale: 4},
	}
	all := []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}
	acc := func(r, pair int) VecPhysical { return all[4+2*r+pair] } // Z4–Z23
	for r := range 10 {
		for pair := range 2 {
			c.VPXORD(acc(r, pair), acc(r, pair), acc(r, pair))
		}
	}
	c.SHRQ(Imm(5-e.shift), RCX) // k/lanes chunks of 32 bytes
	c.TESTQ(RCX, RCX)
	c.JZ(LabelRef("reduce"))
	c.Label("loop")
	cols := []VecPhysical{Z24, Z25}
	e.mov(Mem{Base: R10}, Y24)
	c.VINSERTF64X4(U8(1), Mem{Base: R10, Index: R11, Scale: 1}, Z24, Z24)
	e.mov(Mem{Base: R10, Index: R11, Scale: 2}, Y25)
	c.VINSERTF64X4(U8(1), Mem{Base: R10, Index: R12, Scale: 1}, Z25, Z25)
	for r, m := range rows {
		z := all[26+r%4]
		c.VBROADCASTF64X4(m, z)
		for pair := range 2 {
			e.fma(cols[pair], z, acc(r, pair))
		}
	}
	c.ADDQ(U8(32), RSI)
	c.ADDQ(U8(32), RDI)
	c.ADDQ(U8(32), R10)
	c.DECQ(RCX)
	c.JNZ(LabelRef("loop"))

	// Each row's four sums, reduced as dot4x3's, go to the low part of its
	// first accumulator (free once reduced): X or Y(4+2r).
	c.Label("reduce")
	sums := func(r int) VecPhysical {
		if e.lanes == 8 {
			return acc(r, 0).AsX().(VecPhysical)
		}
		return acc(r, 0).AsY().(VecPhysical)
	}
	for r := range 10 {
		c.VEXTRACTF64X4(U8(0), acc(r, 0), Y0)
		c.VEXTRACTF64X4(U8(1), acc(r, 0), Y1)
		c.VEXTRACTF64X4(U8(0), acc(r, 1), Y2)
		c.VEXTRACTF64X4(U8(1), acc(r, 1), Y3)
		c.VMOVAPS(dotSum4(c, e, 0), sums(r))
	}
	// The k mod lanes elements left, as dotTail adds them: per element,
	// B's four in one register, each product rounded, then added.
	c.Load(c.Param("k"), RCX)
	c.ANDQ(U8(e.lanes-1), RCX)
	c.JZ(LabelRef("store"))
	c.Label("tail")
	if e.lanes == 8 {
		c.VMOVSS(Mem{Base: R10}, X0)
		c.VINSERTPS(U8(0x10), Mem{Base: R10, Index: R11, Scale: 1}, X0, X0)
		c.VINSERTPS(U8(0x20), Mem{Base: R10, Index: R11, Scale: 2}, X0, X0)
		c.VINSERTPS(U8(0x30), Mem{Base: R10, Index: R12, Scale: 1}, X0, X0)
	} else {
		c.VMOVSD(Mem{Base: R10}, X0)
		c.VMOVHPD(Mem{Base: R10, Index: R11, Scale: 1}, X0, X0)
		c.VMOVSD(Mem{Base: R10, Index: R11, Scale: 2}, X2)
		c.VMOVHPD(Mem{Base: R10, Index: R12, Scale: 1}, X2, X2)
		c.VINSERTF128(U8(1), X2, Y0, Y0)
	}
	for r, m := range rows {
		x, w := X1, X0
		if e.lanes == 4 {
			x, w = Y1, Y0
		}
		e.bcast(m, x)
		e.mul(w, x, x)
		if e.lanes == 8 {
			c.VADDPS(x, sums(r), sums(r))
		} else {
			c.VADDPD(x, sums(r), sums(r))
		}
	}
	for _, r := range []Register{RSI, RDI, R10} {
		c.ADDQ(Imm(uint64(e.size)), r)
	}
	c.DECQ(RCX)
	c.JNZ(LabelRef("tail"))
	c.Label("store")
	c.Load(c.Param("ldo"), RAX)
	c.SHLQ(Imm(e.shift), RAX)
	for r := range 10 {
		e.mov(sums(r), Mem{Base: RDX})
		if r < 9 {
			c.ADDQ(RAX, RDX)
		}
	}
	c.VZEROUPPER()
	c.RET()
}

// dotx6W is the body of dot4x6W over the first pairs row pairs.
func dotx6W(c *build.Context, e elem, pairs int) {
	a := []Register{RSI, R8, R9, R10}
	b := []Register{RDI, R11, R12, RBX, R13, R15}
	load(c, "a0 a1 a2 a3 b0 b1 b2 b3 b4 b5 k out", a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3], b[4], b[5], RCX, RDX)
	acc := func(pair, col int) VecPhysical {
		if col < 3 {
			return zs[6*pair+col]
		}
		return []VecPhysical{Z16, Z17, Z18, Z19, Z20, Z21}[3*pair+col-3]
	}
	for pair := 0; pair < 2; pair++ {
		for col := 0; col < 6; col++ {
			c.VPXORD(acc(pair, col), acc(pair, col), acc(pair, col))
		}
	}
	c.XORQ(RAX, RAX)
	c.ANDQ(I8(-int8(e.lanes)), RCX)
	c.SHLQ(Imm(e.shift), RCX)
	cols := []VecPhysical{Z22, Z23, Z24, Z25, Z26, Z27}

	c.Label("loop")
	c.CMPQ(RAX, RCX)
	c.JGE(LabelRef("split"))
	for col, r := range b {
		c.VBROADCASTF64X4(Mem{Base: r, Index: RAX, Scale: 1}, cols[col])
	}
	for pair, z := range []VecPhysical{Z15, Z28}[:pairs] {
		e.mov(Mem{Base: a[2*pair], Index: RAX, Scale: 1}, z.AsY()) // clears the upper half
		c.VINSERTF64X4(U8(1), Mem{Base: a[2*pair+1], Index: RAX, Scale: 1}, z, z)
		for col := range b {
			e.fma(cols[col], z, acc(pair, col))
		}
	}
	c.ADDQ(U8(32), RAX)
	c.JMP(LabelRef("loop"))

	c.Label("split")
	for half := 0; half < 2; half++ {
		for pair := 0; pair < 2; pair++ {
			for col := 0; col < 3; col++ {
				if half == 1 {
					c.VMOVAPS(acc(pair, 3+col), zs[6*pair+col])
				}
				c.VEXTRACTF64X4(U8(1), zs[6*pair+col], ys[6*pair+3+col])
			}
		}
		if half == 1 {
			c.MOVQ(RCX, RAX) // the tail again, for columns 3–5
		}
		dotTailW(c, e, dotSums(c, e), a, b[3*half:3*half+3], R14, half)
	}
	c.VZEROUPPER()
	c.RET()
}

// dotTailW adds the products past k&^(lanes−1), from RAX on, to the sums
// (out[0:4], out[4:8], out[8:12]) as dotTail does: each product rounded,
// then added, element by element; then it stores them in out (RDX). Two
// Z registers hold the twelve sums, rows 0–1 and rows 2–3, six lanes each
// (3·row+column): per element, masked broadcasts lay the rows' and the
// columns' values over those lanes, and one multiply and one add (VMULPS,
// VADDPS) per register do the twelve. (The sums stay in registers: loaded
// back from out, they waited on the stores.)
//
// half names the labels and picks the twelve sums' place in out: the
// first or the second twelve. scratch is a free register.
func dotTailW(c *build.Context, e elem, sums []VecPhysical, a, b []Register, scratch Register, half int) {
	outAt := func(disp int) Mem { return Mem{Base: RDX, Disp: (12*half + disp) * e.size} }
	tail, done := fmt.Sprint("tail", half), fmt.Sprint("store", half)
	store, add, align := c.VMOVUPS, c.VADDPS, c.VALIGND
	if e.size == 8 {
		store, add, align = c.VMOVUPD, c.VADDPD, c.VALIGNQ
	}
	// K1, K2: a row's three lanes (first, second row of a register);
	// K3–K5: a column's lanes (c, 3+c); K6: the six sums. Set once: the
	// second half finds them as the first left them.
	if half == 0 {
		for i, m := range []uint32{0x07, 0x38, 0x09, 0x12, 0x24, 0x3f} {
			c.MOVL(U32(m), scratch.(GPPhysical).As32())
			c.KMOVW(scratch.(GPPhysical).As32(), []Op{K1, K2, K3, K4, K5, K6}[i])
		}
	}
	// Z0 = out[0:8], and Z1 = out[6:12] (out[4:12] moved down two lanes).
	insert := c.VINSERTF32X4 // four float32 sums: an X register
	if e.size == 8 {
		insert = c.VINSERTF64X4 // four float64 sums: a Y register
	}
	insert(U8(1), sums[1], sums[0].AsZ(), Z15)
	insert(U8(1), sums[2], sums[1].AsZ(), Z14)
	c.VMOVAPS(Z15, Z0)
	align(U8(2), Z14, Z14, Z1)
	c.Load(c.Param("k"), scratch)
	c.SHLQ(Imm(e.shift), scratch)
	c.CMPQ(RAX, scratch)
	c.JGE(LabelRef(done))
	for _, z := range []VecPhysical{Z2, Z3, Z4} {
		c.VPXORD(z, z, z) // lanes past six stay zero: the broadcasts below merge
	}
	c.Label(tail)
	for r, row := range a {
		e.bcast(Mem{Base: row, Index: RAX, Scale: 1}, []Op{K1, K2}[r%2], []VecPhysical{Z2, Z3}[r/2])
	}
	for col, r := range b {
		e.bcast(Mem{Base: r, Index: RAX, Scale: 1}, []Op{K3, K4, K5}[col], Z4)
	}
	e.mul(Z4, Z2, Z2)
	e.mul(Z4, Z3, Z3)
	add(Z2, Z0, Z0)
	add(Z3, Z1, Z1)
	c.ADDQ(Imm(uint64(e.size)), RAX)
	c.CMPQ(RAX, scratch)
	c.JL(LabelRef(tail))
	c.Label(done)
	store(Z0, K6, outAt(0))
	store(Z1, K6, outAt(6))
}

// axpy4W is axpy4 three and then one Z register of each row at a time,
// then one Y register, and then the columns past n&^(lanes−1) that axpy4
// leaves to axpyTail, as axpyTail computes them: each product rounded,
// then added (VMULPS, VADDPS), in one Z register masked to those columns.
func axpy4W(c *build.Context, e elem) {
	name := "axpy4W" + e.suffix
	text(c, name, fmt.Sprintf("func(c0, c1, c2, c3 *%s, n int, add bool, beta *%[1]s, coef *%[1]s, k int, b *%[1]s, ldb int)", e.goType),
		fmt.Sprintf("%s is axpy4%s on AVX-512, bit for bit, with axpyTail's columns too: every column of n.", name, e.suffix))
	axpyBody(c, e, []axpyPass{{3, zs, "three"}, {1, zs, "onez"}, {1, ys, "one"}}, func() { axpyTailW(c, e) })
}

// axpyTailW is axpy4W's last pass: the n&(lanes−1) columns from RAX, in
// the registers axpyBody leaves them (rows RDI, R8, R9, R10; add R12; β
// R15; coef RSI; k·4 coefficients' bytes R13; b R11; ldb's bytes RBX).
func axpyTailW(c *build.Context, e elem) {
	rows := []Register{RDI, R8, R9, R10}
	movz, add, store := c.VMOVUPS_Z, c.VADDPS, c.VMOVUPS
	if e.size == 8 {
		movz, add, store = c.VMOVUPD_Z, c.VADDPD, c.VMOVUPD
	}
	c.Load(c.Param("n"), RCX)
	c.ANDQ(imm(e.lanes-1), RCX)
	c.JZ(LabelRef("done"))
	c.MOVL(U32(1), EDX)
	c.SHLL(CL, EDX)
	c.DECL(EDX)
	c.KMOVW(EDX, K1)
	c.TESTQ(R12, R12)
	c.JZ(LabelRef("tailzero"))
	for r, row := range rows {
		movz(Mem{Base: row, Index: RAX, Scale: 1}, K1, zs[r])
	}
	c.TESTQ(R15, R15)
	c.JZ(LabelRef("tailrows"))
	e.bcast(Mem{Base: R15}, Z15)
	for r := range rows {
		e.mul(Z15, zs[r], zs[r])
	}
	c.JMP(LabelRef("tailrows"))
	c.Label("tailzero")
	for r := range rows {
		c.VPXORD(zs[r], zs[r], zs[r])
	}
	c.Label("tailrows")
	c.LEAQ(Mem{Base: R11, Index: RAX, Scale: 1}, R14)
	c.XORQ(RCX, RCX)
	c.Label("tailt")
	c.CMPQ(RCX, R13)
	c.JGE(LabelRef("tailstore"))
	movz(Mem{Base: R14}, K1, Z12)
	for r := range rows {
		e.bcast(Mem{Base: RSI, Index: RCX, Scale: 1, Disp: r * e.size}, Z15)
		e.mul(Z12, Z15, Z13)
		add(Z13, zs[r], zs[r])
	}
	c.ADDQ(RBX, R14)
	c.ADDQ(U8(4*e.size), RCX)
	c.JMP(LabelRef("tailt"))
	c.Label("tailstore")
	for r, row := range rows {
		store(zs[r], K1, Mem{Base: row, Index: RAX, Scale: 1})
	}
}
