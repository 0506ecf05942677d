package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// elem is what a kernel needs to know of its element type: the
// instructions of its width, whose results then differ in nothing but
// precision.
type elem struct {
	suffix string // of the kernel's name: F32, F64
	goType string
	size   int // bytes
	shift  uint64
	lanes  int // in a Y register

	mov, xor, fma, bcast, mul func(...Op)
	hadd                      func(Op, Op, Op)
}

func f32(c *build.Context) elem {
	return elem{"F32", "float32", 4, 2, 8, c.VMOVUPS, c.VXORPS, c.VFMADD231PS, c.VBROADCASTSS, c.VMULPS, c.VHADDPS}
}

func f64(c *build.Context) elem {
	return elem{"F64", "float64", 8, 3, 4, c.VMOVUPD, c.VXORPD, c.VFMADD231PD, c.VBROADCASTSD, c.VMULPD, c.VHADDPD}
}

var ys = []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}
var xs = []VecPhysical{X0, X1, X2, X3, X4, X5, X6, X7, X8, X9, X10, X11, X12, X13, X14, X15}

// kernels builds every function of simd_amd64.s, in the order of the file.
func kernels(c *build.Context) {
	for _, e := range []elem{f32(c), f64(c)} {
		dot4x3(c, e)
		axpy4(c, e)
		pixels(c, e)
		for _, op := range binaryOps(c, e) {
			binary(c, e, op)
		}
		affine(c, e)
	}
	sigmoidF32(c)
	prefetch(c)
}

// text starts a kernel: NOSPLIT (it calls nothing and uses no stack) and
// noescape (no pointer outlives the call).
func text(c *build.Context, name, signature string, doc ...string) {
	c.Function(name)
	c.Attributes(attr.NOSPLIT)
	c.SignatureExpr(signature)
	c.Pragma("noescape")
	c.Doc(doc...)
}

// load moves the arguments named in names (separated by spaces) into regs.
func load(c *build.Context, names string, regs ...Register) {
	for i, name := range strings.Fields(names) {
		c.Load(c.Param(name), regs[i])
	}
}

// dot4x3 computes twelve dot products: out[3r+c] = aᵣ·b_c over the first
// k&^(lanes−1) elements, each A and B chunk loaded once for the three or four
// products it feeds (A·Bᵀ, the forward pass).
func dot4x3(c *build.Context, e elem) {
	name := "dot4x3" + e.suffix
	text(c, name, fmt.Sprintf("func(a0, a1, a2, a3, b0, b1, b2 *%s, k int, out *[12]%[1]s)", e.goType),
		fmt.Sprintf("%s sets out[3r+c] = aᵣ·b_c over the first k&^%d elements.", name, e.lanes-1))
	a, b := dotStart(c, e)

	c.Label("loop")
	c.CMPQ(RAX, RCX)
	c.JGE(LabelRef("reduce"))
	for col, r := range b {
		e.mov(Mem{Base: r, Index: RAX, Scale: 1}, ys[12+col])
	}
	for row, r := range a {
		e.mov(Mem{Base: r, Index: RAX, Scale: 1}, Y15)
		for col := range b {
			e.fma(ys[12+col], Y15, ys[3*row+col])
		}
	}
	c.ADDQ(U8(32), RAX)
	c.JMP(LabelRef("loop"))

	c.Label("reduce")
	dotReduce(c, e)
}

// dotStart loads dot4x3's arguments (rows of A, columns of B, k in bytes
// of whole registers in RCX, out in RDX), clears its twelve accumulators
// Y0–Y11 (a VEX write clears the Z register above each) and RAX, the
// offset.
func dotStart(c *build.Context, e elem) (a, b []Register) {
	a = []Register{RSI, R8, R9, R10}
	b = []Register{RDI, R11, R12}
	load(c, "a0 a1 a2 a3 b0 b1 b2 k out", a[0], a[1], a[2], a[3], b[0], b[1], b[2], RCX, RDX)
	for _, y := range ys[:12] {
		e.xor(y, y, y)
	}
	c.XORQ(RAX, RAX)
	c.ANDQ(I8(-int8(e.lanes)), RCX)
	c.SHLQ(Imm(e.shift), RCX)
	return a, b
}

// dotReduce sums the lanes of dot4x3's twelve accumulators, Y0–Y11
// (row r, column c in Y(3r+c)), into out (RDX) and returns: each group
// of four accumulators becomes four sums.
func dotReduce(c *build.Context, e elem) {
	for g, sums := range dotSums(c, e) {
		e.mov(sums, Mem{Base: RDX, Disp: 4 * e.size * g})
	}
	c.VZEROUPPER()
	c.RET()
}

// dotSums is dotReduce without the stores and the return: it returns the
// registers that hold out[0:4], out[4:8] and out[8:12].
func dotSums(c *build.Context, e elem) (sums []VecPhysical) {
	for g := 0; g < 3; g++ {
		sums = append(sums, dotSum4(c, e, g))
	}
	return sums
}

// dotSum4 reduces the lanes of Y(4g)–Y(4g+3), four dot products, and
// returns the register that holds their four sums.
func dotSum4(c *build.Context, e elem, g int) VecPhysical {
	acc := ys[4*g : 4*g+4]
	e.hadd(acc[1], acc[0], acc[0])
	e.hadd(acc[3], acc[2], acc[2])
	if e.lanes == 8 {
		// [a01 b01 a23 b23 | a45 b45 a67 b67], the same for c and d,
		// summed pairwise, then the halves added.
		e.hadd(acc[2], acc[0], acc[0])
		c.VEXTRACTF128(U8(1), acc[0], xs[4*g+1])
		c.VADDPS(xs[4*g+1], xs[4*g], xs[4*g])
		return xs[4*g]
	}
	// [a01 b01 | a23 b23] and [c01 d01 | c23 d23]: the halves
	// paired up across the two registers and added.
	c.VPERM2F128(U8(0x20), acc[2], acc[0], acc[1])
	c.VPERM2F128(U8(0x31), acc[2], acc[0], acc[3])
	c.VADDPD(acc[3], acc[1], acc[1])
	return acc[1]
}

// axpy4 updates four rows of C at once: cᵣ[x] = (β·cᵣ[x] if add) +
// Σₜ coef[4t+r]·b[t*ldb+x] for x < n&^(lanes−1), so that four rows share
// every load of B (the weight gradient δᵀ·a fused with the SGD step, β the
// L2 weight decay, taken as 1 where beta is nil). It takes three registers
// of each row at a time, then one. A row may repeat: it then stores the
// same values twice.
func axpy4(c *build.Context, e elem) {
	name := "axpy4" + e.suffix
	text(c, name, fmt.Sprintf("func(c0, c1, c2, c3 *%s, n int, add bool, beta *%[1]s, coef *%[1]s, k int, b *%[1]s, ldb int)", e.goType),
		fmt.Sprintf("%s: for r < 4, x < n&^%d, cᵣ[x] = (β·cᵣ[x] if add; β = *beta, 1 if nil) + Σₜ coef[4t+r]·b[t*ldb+x].", name, e.lanes-1))
	axpyBody(c, e, []axpyPass{{3, ys, "three"}, {1, ys, "one"}}, nil)
}

// axpyPass is one pass of axpy4 over the columns: regs registers of vs (Y
// or Z, which sets how many bytes a register covers) a row at a time.
type axpyPass struct {
	regs  int
	vs    []VecPhysical
	label string
}

// imm is v as the smallest immediate that x86 reads back as v: imm8 is
// sign-extended, so a byte over 127 takes an imm32.
func imm(v int) Constant {
	if v < 128 {
		return U8(v)
	}
	return U32(v)
}

// axpyBody is axpy4 after its signature, passes in order: each but the
// last while its registers' worth of columns remain, the last while any
// whole register does. Every column gets the same operations in the same
// order whatever the pass, so the passes differ in speed only.
func axpyBody(c *build.Context, e elem, passes []axpyPass, tail func()) {
	rows := []Register{RDI, R8, R9, R10}
	load(c, "c0 c1 c2 c3 n add beta coef k b ldb", rows[0], rows[1], rows[2], rows[3], RCX, R12, R15, RSI, R13, R11, RBX)
	c.SHLQ(Imm(e.shift), RBX)
	c.Comment("k in bytes of interleaved coefficients, n in bytes covered by whole registers")
	c.SHLQ(Imm(e.shift+2), R13)
	c.XORQ(RAX, RAX)
	c.MOVQ(RCX, RDX)
	c.ANDQ(I8(-int8(e.lanes)), RDX)
	c.SHLQ(Imm(e.shift), RDX)

	// One pass over the columns; accumulator r·3+j holds register j of row r.
	for i, p := range passes {
		regs, vs, label := p.regs, p.vs, p.label
		width := int(p.vs[0].Size())
		next := "done"
		if i+1 < len(passes) {
			next = passes[i+1].label
		} else if tail != nil {
			next = "tail"
		}
		acc := func(r, j int) VecPhysical { return vs[3*r+j] }
		c.Label(label)
		if i+1 < len(passes) { // while regs registers' worth of columns remain
			c.MOVQ(RDX, RCX)
			c.SUBQ(RAX, RCX)
			c.CMPQ(RCX, imm(regs*width))
			c.JLT(LabelRef(next))
		} else {
			c.CMPQ(RAX, RDX)
			c.JGE(LabelRef(next))
		}
		c.TESTQ(R12, R12)
		c.JZ(LabelRef(label + "zero"))
		for r, row := range rows {
			for j := 0; j < regs; j++ {
				e.mov(Mem{Base: row, Index: RAX, Scale: 1, Disp: width * j}, acc(r, j))
			}
		}
		c.TESTQ(R15, R15)
		c.JZ(LabelRef(label + "rows"))
		e.bcast(Mem{Base: R15}, vs[15])
		for r := range rows {
			for j := 0; j < regs; j++ {
				e.mul(vs[15], acc(r, j), acc(r, j))
			}
		}
		c.JMP(LabelRef(label + "rows"))
		c.Label(label + "zero")
		for r := range rows {
			for j := 0; j < regs; j++ {
				y := ys[3*r+j] // a VEX write clears the Z register above it
				e.xor(y, y, y)
			}
		}
		c.Label(label + "rows")
		c.LEAQ(Mem{Base: R11, Index: RAX, Scale: 1}, R14)
		c.XORQ(RCX, RCX)
		c.Label(label + "t")
		c.CMPQ(RCX, R13)
		c.JGE(LabelRef(label + "store"))
		for j := 0; j < regs; j++ {
			e.mov(Mem{Base: R14, Disp: width * j}, vs[12+j])
		}
		for r := range rows {
			e.bcast(Mem{Base: RSI, Index: RCX, Scale: 1, Disp: r * e.size}, vs[15])
			for j := 0; j < regs; j++ {
				e.fma(vs[12+j], vs[15], acc(r, j))
			}
		}
		c.ADDQ(RBX, R14)
		c.ADDQ(U8(4*e.size), RCX)
		c.JMP(LabelRef(label + "t"))
		c.Label(label + "store")
		for r, row := range rows {
			for j := 0; j < regs; j++ {
				e.mov(acc(r, j), Mem{Base: row, Index: RAX, Scale: 1, Disp: width * j})
			}
		}
		c.ADDQ(imm(width*regs), RAX)
		c.JMP(LabelRef(label))
	}
	if tail != nil {
		c.Label("tail")
		tail()
	}
	c.Label("done")
	c.VZEROUPPER()
	c.RET()
}

// constant is a value of e's width in read-only memory, for VBROADCASTS[SD]
// to load into every lane: one datum a constant rather than a register's
// worth of copies.
func constant(c *build.Context, name string, v float64, e elem) Mem {
	if e.size == 4 {
		return c.ConstData(name, U32(math.Float32bits(float32(v))))
	}
	return c.ConstData(name, U64(math.Float64bits(v)))
}

// prefetch asks for the cache lines of p[0:n] without waiting for them.
func prefetch(c *build.Context) {
	text(c, "prefetch", "func(p *uint8, n int)",
		"prefetch asks for the cache lines of p[0:n] without waiting for them;",
		"n must be at least 1.")
	load(c, "p n", RSI, RCX)
	c.LEAQ(Mem{Base: RSI, Index: RCX, Scale: 1}, RDX)
	c.Label("line")
	c.CMPQ(RSI, RDX)
	c.JGE(LabelRef("done"))
	c.PREFETCHT0(Mem{Base: RSI})
	c.ADDQ(U8(64), RSI)
	c.JMP(LabelRef("line"))
	c.Label("done")
	c.PREFETCHT0(Mem{Base: RDX, Disp: -1})
	c.RET()
}
