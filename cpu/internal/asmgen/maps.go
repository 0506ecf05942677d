package main

import (
	"fmt"
	"math"

	"github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The element-wise kernels of simd_amd64.s: bytes to pixels, the binary
// ops and affine, and σ.

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
