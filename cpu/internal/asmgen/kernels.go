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

// pixels converts bytes to their value over 255, exactly as Go's T(p)/255
// rounds it, without a division (VDIVPS and VDIVPD are the slowest
// instructions here): q = p·r with r the rounded 1/255, then one fused
// correction q + (p − q·255)·r, which rounds correctly (Markstein). The
// test checks all 256 values.
func pixels(c *build.Context, e elem) {
	name := "pixels" + e.suffix
	text(c, name, fmt.Sprintf("func(dst *%s, src *uint8, n int)", e.goType),
		fmt.Sprintf("%s sets dst[i] = %s(src[i])/255 for i < n&^%d, bit-identical to Go's division.", name, e.goType, e.lanes-1))
	load(c, "dst src n", RDI, RSI, RCX)
	c.ANDQ(I8(-int8(e.lanes)), RCX)
	e.bcast(constant(c, "c255"+e.suffix, 255, e), Y7)
	e.bcast(constant(c, "inv255"+e.suffix, 1.0/255, e), Y6)
	// Two registers a pass while two are left (independent chains), then one.
	convert := func(disp int, v []VecPhysical) {
		src := Mem{Base: RSI, Index: RBX, Scale: 1, Disp: disp}
		dst := Mem{Base: RDI, Index: RBX, Scale: uint8(e.size), Disp: disp * e.size}
		if e.size == 4 {
			c.VPMOVZXBD(src, v[0])
			c.VCVTDQ2PS(v[0], v[0])
			c.VMULPS(Y6, v[0], v[1])
			c.VMOVAPS(v[0], v[2])
			c.VFNMADD231PS(Y7, v[1], v[2])
			c.VFMADD231PS(Y6, v[2], v[1])
			c.VMOVUPS(v[1], dst)
		} else {
			c.VPMOVZXBD(src, v[0].AsX())
			c.VCVTDQ2PD(v[0].AsX(), v[0])
			c.VMULPD(Y6, v[0], v[1])
			c.VMOVAPD(v[0], v[2])
			c.VFNMADD231PD(Y7, v[1], v[2])
			c.VFMADD231PD(Y6, v[2], v[1])
			c.VMOVUPD(v[1], dst)
		}
	}
	c.XORQ(RBX, RBX)
	c.Label("two")
	c.LEAQ(Mem{Base: RBX, Disp: 2 * e.lanes}, RDX)
	c.CMPQ(RDX, RCX)
	c.JG(LabelRef("one"))
	convert(0, ys[0:3])
	convert(e.lanes, ys[3:6])
	c.MOVQ(RDX, RBX)
	c.JMP(LabelRef("two"))
	c.Label("one")
	c.CMPQ(RBX, RCX)
	c.JGE(LabelRef("done"))
	convert(0, ys[0:3])
	c.Label("done")
	c.VZEROUPPER()
	c.RET()
}

// binaryOp is an element-wise op of two operands: name, what it computes,
// and its instruction (Go's operand order: source 2, source 1, destination).
type binaryOp struct {
	name, math string
	inst       func(...Op)
}

func binaryOps(c *build.Context, e elem) []binaryOp {
	if e.size == 8 {
		return []binaryOp{{"add", "a[i] + b[i]", c.VADDPD}, {"sub", "a[i] − b[i]", c.VSUBPD}, {"mul", "a[i]·b[i]", c.VMULPD}}
	}
	return []binaryOp{{"add", "a[i] + b[i]", c.VADDPS}, {"sub", "a[i] − b[i]", c.VSUBPS}, {"mul", "a[i]·b[i]", c.VMULPS}}
}

// binary is an element-wise op over n&^(lanes−1) elements, four registers
// a pass, then one: each element one IEEE operation, as in Go.
func binary(c *build.Context, e elem, op binaryOp) {
	name := op.name + e.suffix
	text(c, name, fmt.Sprintf("func(d, a, b *%s, n int)", e.goType),
		fmt.Sprintf("%s sets d[i] = %s for i < n&^%d.", name, op.math, e.lanes-1))
	load(c, "d a b n", RDI, RSI, RDX, RCX)
	elementwise(c, e, func(x, y VecPhysical, at func(Register) Mem) {
		e.mov(at(RSI), x)
		op.inst(at(RDX), x, x)
	})
}

// affine is the op table's affine over n&^(lanes−1) elements: α·a[i]
// rounded, then β added (a multiply and an add, never fused).
func affine(c *build.Context, e elem) {
	name := "affine" + e.suffix
	text(c, name, fmt.Sprintf("func(d, a *%s, n int, alpha, beta %[1]s)", e.goType),
		fmt.Sprintf("%s sets d[i] = %s(α·a[i]) + β for i < n&^%d.", name, e.goType, e.lanes-1))
	load(c, "d a n", RDI, RSI, RCX)
	for i, name := range []string{"alpha", "beta"} {
		p, err := c.Param(name).Resolve()
		if err != nil {
			panic(err) // the signature above has both
		}
		e.bcast(p.Addr, []VecPhysical{Y14, Y15}[i])
	}
	add := c.VADDPS
	if e.size == 8 {
		add = c.VADDPD
	}
	elementwise(c, e, func(x, y VecPhysical, at func(Register) Mem) {
		e.mul(at(RSI), Y14, x)
		add(Y15, x, x)
	})
}

// elementwise runs body over the n&^(lanes−1) elements of count RCX,
// four registers (Y0–Y3) a pass while four are left, then one; body loads
// its operands at(base) and leaves the result in x, stored at(RDI).
func elementwise(c *build.Context, e elem, body func(x, y VecPhysical, at func(Register) Mem)) {
	c.ANDQ(I8(-int8(e.lanes)), RCX)
	c.XORQ(RAX, RAX)
	step := 4 * e.lanes
	c.Label("four")
	c.LEAQ(Mem{Base: RAX, Disp: step}, RBX)
	c.CMPQ(RBX, RCX)
	c.JG(LabelRef("one"))
	for r := range 4 {
		at := func(base Register) Mem { return Mem{Base: base, Index: RAX, Scale: uint8(e.size), Disp: 32 * r} }
		body(ys[r], ys[4+r], at)
		e.mov(ys[r], at(RDI))
	}
	c.MOVQ(RBX, RAX)
	c.JMP(LabelRef("four"))
	c.Label("one")
	c.CMPQ(RAX, RCX)
	c.JGE(LabelRef("done"))
	at := func(base Register) Mem { return Mem{Base: base, Index: RAX, Scale: uint8(e.size)} }
	body(Y0, Y4, at)
	e.mov(Y0, at(RDI))
	c.ADDQ(Imm(uint64(e.lanes)), RAX)
	c.JMP(LabelRef("one"))
	c.Label("done")
	c.VZEROUPPER()
	c.RET()
}

// sigmoidF32 is σ in float32, eight lanes. exp(t) = 2ⁿ·eʳ with
// n = round(t·log₂e) and r = t − n·ln2, ln2 split in a part with few bits
// (exact in n·ln2hi) and the rest; |r| ≤ ln2/2, where eʳ's Taylor series to
// r⁷ is within 6e−9 relative (r⁸/8!), a tenth of a float32 ulp.
func sigmoidF32(c *build.Context) {
	e := f32(c)
	text(c, "sigmoidF32", "func(d, a *float32, n int)",
		"sigmoidF32 sets d[i] = 1/(1+exp(−a[i])) for i < n&^7, to within 2 ulp of",
		"the float64 formula rounded. exp's argument is clamped to [−86, 88], where",
		"2ⁿ stays a normal float (σ is then 1 or below 7e−39, as it should be);",
		"MINPS and MAXPS keep the clamp from hiding a NaN, so a diverged step stays NaN.")
	load(c, "d a n", RDI, RSI, RCX)
	c.ANDQ(I8(-8), RCX)
	// Twelve constants stay in registers; p5 is loaded in the loop, into
	// the register that then takes r².
	one := Y15
	log2e, ln2hi, ln2lo := Y11, Y10, Y9
	hi, lo, sign := Y14, Y13, Y12
	p := []VecPhysical{Y8, Y7, Y6, Y5, Y4} // 1/7! … 1/3!
	const ln2hi32 = 0x1.63p-1              // ln2 to 9 bits: n·ln2hi is exact
	for _, k := range []struct {
		name string
		v    float64
		r    VecPhysical
	}{
		{"sigone", 1, one}, {"siglog2e", math.Log2E, log2e}, {"sigln2hi", ln2hi32, ln2hi},
		{"sigln2lo", math.Ln2 - ln2hi32, ln2lo}, {"sighi", 88, hi}, {"siglo", -86, lo},
		{"sigsign", math.Copysign(0, -1), sign},
		{"sigp0", 1.0 / 5040, p[0]}, {"sigp1", 1.0 / 720, p[1]}, {"sigp2", 1.0 / 120, p[2]},
		{"sigp3", 1.0 / 24, p[3]}, {"sigp4", 1.0 / 6, p[4]},
	} {
		e.bcast(constant(c, k.name, k.v, e), k.r)
	}
	p5 := constant(c, "sigp5", 0.5, e)
	c.XORQ(RBX, RBX)

	t, n, r2, y := Y0, Y1, Y2, Y3
	c.Label("loop")
	c.CMPQ(RBX, RCX)
	c.JGE(LabelRef("done"))
	c.VMOVUPS(Mem{Base: RSI, Index: RBX, Scale: 4}, t)
	c.VXORPS(sign, t, t) // t = −x
	c.VMINPS(t, hi, t)   // min(88, t); a NaN t is kept
	c.VMAXPS(t, lo, t)   // max(−86, t); likewise
	c.VMULPS(log2e, t, n)
	c.VROUNDPS(U8(0), n, n)     // n = round(t·log₂e)
	c.VFNMADD231PS(ln2hi, n, t) // r = t − n·ln2hi
	c.VFNMADD231PS(ln2lo, n, t) // r −= n·ln2lo
	r := t
	c.VMOVAPS(p[1], y)
	c.VFMADD231PS(p[0], r, y) // y = p0·r + p1
	for _, pk := range p[2:] {
		c.VFMADD213PS(pk, r, y) // y = y·r + pₖ
	}
	c.VBROADCASTSS(p5, r2)
	c.VFMADD213PS(r2, r, y)
	c.VMULPS(r, r, r2)
	c.VFMADD213PS(r, r2, y) // y = y·r² + r
	c.VADDPS(one, y, y)     // eʳ = y + 1
	c.VCVTPS2DQ(n, n)
	c.VPSLLD(U8(23), n, n)
	c.VPADDD(n, y, y) // eᵗ = eʳ·2ⁿ
	c.VADDPS(one, y, y)
	c.VDIVPS(y, one, y) // σ = 1/(1 + eᵗ)
	c.VMOVUPS(y, Mem{Base: RDI, Index: RBX, Scale: 4})
	c.ADDQ(U8(8), RBX)
	c.JMP(LabelRef("loop"))
	c.Label("done")
	c.VZEROUPPER()
	c.RET()
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
