#include "textflag.h"

// func dot4F32(r0, r1, r2, r3, b *float32, k int, out *[4]float32)
TEXT ·dot4F32(SB), NOSPLIT, $0-56
	MOVQ r0+0(FP), SI
	MOVQ r1+8(FP), R9
	MOVQ r2+16(FP), R10
	MOVQ r3+24(FP), R11
	MOVQ b+32(FP), DI
	MOVQ k+40(FP), CX
	MOVQ out+48(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-16, BX
	SHLQ $2, BX

loop16:
	CMPQ AX, BX
	JGE  tail8
	VMOVUPS (DI)(AX*1), Y8
	VMOVUPS 32(DI)(AX*1), Y9
	VFMADD231PS (SI)(AX*1), Y8, Y0
	VFMADD231PS 32(SI)(AX*1), Y9, Y1
	VFMADD231PS (R9)(AX*1), Y8, Y2
	VFMADD231PS 32(R9)(AX*1), Y9, Y3
	VFMADD231PS (R10)(AX*1), Y8, Y4
	VFMADD231PS 32(R10)(AX*1), Y9, Y5
	VFMADD231PS (R11)(AX*1), Y8, Y6
	VFMADD231PS 32(R11)(AX*1), Y9, Y7
	ADDQ $64, AX
	JMP  loop16

tail8:
	MOVQ CX, BX
	ANDQ $-8, BX
	SHLQ $2, BX
	CMPQ AX, BX
	JGE  reduce
	VMOVUPS (DI)(AX*1), Y8
	VFMADD231PS (SI)(AX*1), Y8, Y0
	VFMADD231PS (R9)(AX*1), Y8, Y2
	VFMADD231PS (R10)(AX*1), Y8, Y4
	VFMADD231PS (R11)(AX*1), Y8, Y6

reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y5, Y4, Y4
	VADDPS Y7, Y6, Y6
	VHADDPS Y2, Y0, Y0
	VHADDPS Y6, Y4, Y4
	VHADDPS Y4, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (DX)
	VZEROUPPER
	RET

// func axpyF32(c *float32, n int, add bool, coef *float32, k int, b *float32, ldb int)
TEXT ·axpyF32(SB), NOSPLIT, $0-56
	MOVQ c+0(FP), DI
	MOVQ n+8(FP), CX
	MOVBQZX add+16(FP), R12
	MOVQ coef+24(FP), SI
	MOVQ k+32(FP), R8
	MOVQ b+40(FP), R9
	MOVQ ldb+48(FP), R10
	SHLQ $2, R10
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	SHLQ $2, BX

chunk32:
	CMPQ AX, BX
	JGE  start8
	TESTQ R12, R12
	JZ   zero32
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS 32(DI)(AX*1), Y1
	VMOVUPS 64(DI)(AX*1), Y2
	VMOVUPS 96(DI)(AX*1), Y3
	JMP  rows32

zero32:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

rows32:
	LEAQ (R9)(AX*1), R11
	XORQ DX, DX

t32:
	CMPQ DX, R8
	JGE  store32
	VBROADCASTSS (SI)(DX*4), Y4
	VFMADD231PS (R11), Y4, Y0
	VFMADD231PS 32(R11), Y4, Y1
	VFMADD231PS 64(R11), Y4, Y2
	VFMADD231PS 96(R11), Y4, Y3
	ADDQ R10, R11
	INCQ DX
	JMP  t32

store32:
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	ADDQ $128, AX
	JMP  chunk32

start8:
	MOVQ CX, BX
	ANDQ $-8, BX
	SHLQ $2, BX

chunk8:
	CMPQ AX, BX
	JGE  done
	TESTQ R12, R12
	JZ   zero8
	VMOVUPS (DI)(AX*1), Y0
	JMP  rows8

zero8:
	VXORPS Y0, Y0, Y0

rows8:
	LEAQ (R9)(AX*1), R11
	XORQ DX, DX

t8:
	CMPQ DX, R8
	JGE  store8
	VBROADCASTSS (SI)(DX*4), Y4
	VFMADD231PS (R11), Y4, Y0
	ADDQ R10, R11
	INCQ DX
	JMP  t8

store8:
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP  chunk8

done:
	VZEROUPPER
	RET

// func pixelsF32(dst *float32, src *uint8, n int)
// dst[i] = float32(src[i]) / 255 for i < n&^7: a true division, so the
// result is bit-identical to Go's float32(p)/255.
TEXT ·pixelsF32(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	ANDQ $-8, CX
	MOVL $0x437f0000, AX // 255.0
	MOVL AX, X7
	VBROADCASTSS X7, Y7
	XORQ BX, BX

pix8:
	CMPQ BX, CX
	JGE  pixdone
	VPMOVZXBD (SI)(BX*1), Y0
	VCVTDQ2PS Y0, Y0
	VDIVPS Y7, Y0, Y0
	VMOVUPS Y0, (DI)(BX*4)
	ADDQ $8, BX
	JMP  pix8

pixdone:
	VZEROUPPER
	RET

// func dot4x3F32(a0, a1, a2, a3, b0, b1, b2 *float32, k int, out *[12]float32)
// out[3r+c] = aᵣ·b_c over the first k&^7 elements: twelve dot products,
// each A and B chunk loaded once for the three or four products it feeds.
TEXT ·dot4x3F32(SB), NOSPLIT, $0-72
	MOVQ a0+0(FP), SI
	MOVQ a1+8(FP), R8
	MOVQ a2+16(FP), R9
	MOVQ a3+24(FP), R10
	MOVQ b0+32(FP), DI
	MOVQ b1+40(FP), R11
	MOVQ b2+48(FP), R12
	MOVQ k+56(FP), CX
	MOVQ out+64(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	XORQ AX, AX
	ANDQ $-8, CX
	SHLQ $2, CX

blk8:
	CMPQ AX, CX
	JGE  blkred
	VMOVUPS (DI)(AX*1), Y12
	VMOVUPS (R11)(AX*1), Y13
	VMOVUPS (R12)(AX*1), Y14
	VMOVUPS (SI)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y0
	VFMADD231PS Y13, Y15, Y1
	VFMADD231PS Y14, Y15, Y2
	VMOVUPS (R8)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y3
	VFMADD231PS Y13, Y15, Y4
	VFMADD231PS Y14, Y15, Y5
	VMOVUPS (R9)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VFMADD231PS Y14, Y15, Y8
	VMOVUPS (R10)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y9
	VFMADD231PS Y13, Y15, Y10
	VFMADD231PS Y14, Y15, Y11
	ADDQ $32, AX
	JMP  blk8

blkred:
	// Each group of four accumulators becomes four sums.
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (DX)
	VHADDPS Y5, Y4, Y4
	VHADDPS Y7, Y6, Y6
	VHADDPS Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS X5, X4, X4
	VMOVUPS X4, 16(DX)
	VHADDPS Y9, Y8, Y8
	VHADDPS Y11, Y10, Y10
	VHADDPS Y10, Y8, Y8
	VEXTRACTF128 $1, Y8, X9
	VADDPS X9, X8, X8
	VMOVUPS X8, 32(DX)
	VZEROUPPER
	RET

// func axpy4F32(c0, c1, c2, c3 *float32, n int, add bool, coef *float32, k int, b *float32, ldb int)
// For rows r < 4 and x < n&^7: cᵣ[x] = (cᵣ[x] if add) + Σₜ coef[4t+r]·b[t*ldb+x].
// Four rows of C share every load of B: the weight update δᵀ·a fused
// with the SGD step. A row may repeat: it then stores the same values twice.
TEXT ·axpy4F32(SB), NOSPLIT, $0-80
	MOVQ c0+0(FP), DI
	MOVQ c1+8(FP), R8
	MOVQ c2+16(FP), R9
	MOVQ c3+24(FP), R10
	MOVQ n+32(FP), CX
	MOVBQZX add+40(FP), R12
	MOVQ coef+48(FP), SI
	MOVQ k+56(FP), R13
	MOVQ b+64(FP), R11
	MOVQ ldb+72(FP), BX
	SHLQ $2, BX
	SHLQ $4, R13          // k*16: bytes of interleaved coefficients
	XORQ AX, AX           // byte offset into the rows
	MOVQ CX, DX
	ANDQ $-8, DX
	SHLQ $2, DX           // bytes covered by whole registers

a4chunk:
	MOVQ DX, CX
	SUBQ AX, CX
	CMPQ CX, $96
	JLT  a4one
	TESTQ R12, R12
	JZ   a4zero3
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS 32(DI)(AX*1), Y1
	VMOVUPS 64(DI)(AX*1), Y2
	VMOVUPS (R8)(AX*1), Y3
	VMOVUPS 32(R8)(AX*1), Y4
	VMOVUPS 64(R8)(AX*1), Y5
	VMOVUPS (R9)(AX*1), Y6
	VMOVUPS 32(R9)(AX*1), Y7
	VMOVUPS 64(R9)(AX*1), Y8
	VMOVUPS (R10)(AX*1), Y9
	VMOVUPS 32(R10)(AX*1), Y10
	VMOVUPS 64(R10)(AX*1), Y11
	JMP  a4rows3

a4zero3:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

a4rows3:
	LEAQ (R11)(AX*1), R14
	XORQ CX, CX

a4t3:
	CMPQ CX, R13
	JGE  a4store3
	VMOVUPS (R14), Y12
	VMOVUPS 32(R14), Y13
	VMOVUPS 64(R14), Y14
	VBROADCASTSS (SI)(CX*1), Y15
	VFMADD231PS Y12, Y15, Y0
	VFMADD231PS Y13, Y15, Y1
	VFMADD231PS Y14, Y15, Y2
	VBROADCASTSS 4(SI)(CX*1), Y15
	VFMADD231PS Y12, Y15, Y3
	VFMADD231PS Y13, Y15, Y4
	VFMADD231PS Y14, Y15, Y5
	VBROADCASTSS 8(SI)(CX*1), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VFMADD231PS Y14, Y15, Y8
	VBROADCASTSS 12(SI)(CX*1), Y15
	VFMADD231PS Y12, Y15, Y9
	VFMADD231PS Y13, Y15, Y10
	VFMADD231PS Y14, Y15, Y11
	ADDQ BX, R14
	ADDQ $16, CX
	JMP  a4t3

a4store3:
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, (R8)(AX*1)
	VMOVUPS Y4, 32(R8)(AX*1)
	VMOVUPS Y5, 64(R8)(AX*1)
	VMOVUPS Y6, (R9)(AX*1)
	VMOVUPS Y7, 32(R9)(AX*1)
	VMOVUPS Y8, 64(R9)(AX*1)
	VMOVUPS Y9, (R10)(AX*1)
	VMOVUPS Y10, 32(R10)(AX*1)
	VMOVUPS Y11, 64(R10)(AX*1)
	ADDQ $96, AX
	JMP  a4chunk

a4one:
	CMPQ AX, DX
	JGE  a4done
	TESTQ R12, R12
	JZ   a4zero1
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS (R8)(AX*1), Y3
	VMOVUPS (R9)(AX*1), Y6
	VMOVUPS (R10)(AX*1), Y9
	JMP  a4rows1

a4zero1:
	VXORPS Y0, Y0, Y0
	VXORPS Y3, Y3, Y3
	VXORPS Y6, Y6, Y6
	VXORPS Y9, Y9, Y9

a4rows1:
	LEAQ (R11)(AX*1), R14
	XORQ CX, CX

a4t1:
	CMPQ CX, R13
	JGE  a4store1
	VMOVUPS (R14), Y12
	VBROADCASTSS (SI)(CX*1), Y15
	VFMADD231PS Y12, Y15, Y0
	VBROADCASTSS 4(SI)(CX*1), Y15
	VFMADD231PS Y12, Y15, Y3
	VBROADCASTSS 8(SI)(CX*1), Y15
	VFMADD231PS Y12, Y15, Y6
	VBROADCASTSS 12(SI)(CX*1), Y15
	VFMADD231PS Y12, Y15, Y9
	ADDQ BX, R14
	ADDQ $16, CX
	JMP  a4t1

a4store1:
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y3, (R8)(AX*1)
	VMOVUPS Y6, (R9)(AX*1)
	VMOVUPS Y9, (R10)(AX*1)
	ADDQ $32, AX
	JMP  a4one

a4done:
	VZEROUPPER
	RET

// func prefetch(p *uint8, n int)
// Asks for the cache lines of p[0:n] without waiting for them.
TEXT ·prefetch(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	LEAQ (SI)(CX*1), DX

pfline:
	CMPQ SI, DX
	JGE  pfdone
	PREFETCHT0 (SI)
	ADDQ $64, SI
	JMP  pfline

pfdone:
	PREFETCHT0 -1(DX)
	RET

// σ in float32, eight lanes: the constants of sigmoidF32, each repeated
// for a whole register. exp(t) = 2ⁿ·eʳ with n = round(t·log₂e) and
// r = t − n·ln2, ln2 split in a part with few bits (exact in n·ln2hi) and
// the rest; |r| ≤ ln2/2, where eʳ's Taylor series to r⁷ is within 6e−9
// relative (r⁸/8!), a tenth of a float32 ulp. p0…p5 are 1/7! … 1/2!.
// one
DATA sigc<>+0(SB)/4, $0x3f800000
DATA sigc<>+4(SB)/4, $0x3f800000
DATA sigc<>+8(SB)/4, $0x3f800000
DATA sigc<>+12(SB)/4, $0x3f800000
DATA sigc<>+16(SB)/4, $0x3f800000
DATA sigc<>+20(SB)/4, $0x3f800000
DATA sigc<>+24(SB)/4, $0x3f800000
DATA sigc<>+28(SB)/4, $0x3f800000
// log2e
DATA sigc<>+32(SB)/4, $0x3fb8aa3b
DATA sigc<>+36(SB)/4, $0x3fb8aa3b
DATA sigc<>+40(SB)/4, $0x3fb8aa3b
DATA sigc<>+44(SB)/4, $0x3fb8aa3b
DATA sigc<>+48(SB)/4, $0x3fb8aa3b
DATA sigc<>+52(SB)/4, $0x3fb8aa3b
DATA sigc<>+56(SB)/4, $0x3fb8aa3b
DATA sigc<>+60(SB)/4, $0x3fb8aa3b
// ln2hi
DATA sigc<>+64(SB)/4, $0x3f318000
DATA sigc<>+68(SB)/4, $0x3f318000
DATA sigc<>+72(SB)/4, $0x3f318000
DATA sigc<>+76(SB)/4, $0x3f318000
DATA sigc<>+80(SB)/4, $0x3f318000
DATA sigc<>+84(SB)/4, $0x3f318000
DATA sigc<>+88(SB)/4, $0x3f318000
DATA sigc<>+92(SB)/4, $0x3f318000
// ln2lo
DATA sigc<>+96(SB)/4, $0xb95e8083
DATA sigc<>+100(SB)/4, $0xb95e8083
DATA sigc<>+104(SB)/4, $0xb95e8083
DATA sigc<>+108(SB)/4, $0xb95e8083
DATA sigc<>+112(SB)/4, $0xb95e8083
DATA sigc<>+116(SB)/4, $0xb95e8083
DATA sigc<>+120(SB)/4, $0xb95e8083
DATA sigc<>+124(SB)/4, $0xb95e8083
// p0
DATA sigc<>+128(SB)/4, $0x39500d01
DATA sigc<>+132(SB)/4, $0x39500d01
DATA sigc<>+136(SB)/4, $0x39500d01
DATA sigc<>+140(SB)/4, $0x39500d01
DATA sigc<>+144(SB)/4, $0x39500d01
DATA sigc<>+148(SB)/4, $0x39500d01
DATA sigc<>+152(SB)/4, $0x39500d01
DATA sigc<>+156(SB)/4, $0x39500d01
// p1
DATA sigc<>+160(SB)/4, $0x3ab60b61
DATA sigc<>+164(SB)/4, $0x3ab60b61
DATA sigc<>+168(SB)/4, $0x3ab60b61
DATA sigc<>+172(SB)/4, $0x3ab60b61
DATA sigc<>+176(SB)/4, $0x3ab60b61
DATA sigc<>+180(SB)/4, $0x3ab60b61
DATA sigc<>+184(SB)/4, $0x3ab60b61
DATA sigc<>+188(SB)/4, $0x3ab60b61
// p2
DATA sigc<>+192(SB)/4, $0x3c088889
DATA sigc<>+196(SB)/4, $0x3c088889
DATA sigc<>+200(SB)/4, $0x3c088889
DATA sigc<>+204(SB)/4, $0x3c088889
DATA sigc<>+208(SB)/4, $0x3c088889
DATA sigc<>+212(SB)/4, $0x3c088889
DATA sigc<>+216(SB)/4, $0x3c088889
DATA sigc<>+220(SB)/4, $0x3c088889
// p3
DATA sigc<>+224(SB)/4, $0x3d2aaaab
DATA sigc<>+228(SB)/4, $0x3d2aaaab
DATA sigc<>+232(SB)/4, $0x3d2aaaab
DATA sigc<>+236(SB)/4, $0x3d2aaaab
DATA sigc<>+240(SB)/4, $0x3d2aaaab
DATA sigc<>+244(SB)/4, $0x3d2aaaab
DATA sigc<>+248(SB)/4, $0x3d2aaaab
DATA sigc<>+252(SB)/4, $0x3d2aaaab
// p4
DATA sigc<>+256(SB)/4, $0x3e2aaaab
DATA sigc<>+260(SB)/4, $0x3e2aaaab
DATA sigc<>+264(SB)/4, $0x3e2aaaab
DATA sigc<>+268(SB)/4, $0x3e2aaaab
DATA sigc<>+272(SB)/4, $0x3e2aaaab
DATA sigc<>+276(SB)/4, $0x3e2aaaab
DATA sigc<>+280(SB)/4, $0x3e2aaaab
DATA sigc<>+284(SB)/4, $0x3e2aaaab
// p5
DATA sigc<>+288(SB)/4, $0x3f000000
DATA sigc<>+292(SB)/4, $0x3f000000
DATA sigc<>+296(SB)/4, $0x3f000000
DATA sigc<>+300(SB)/4, $0x3f000000
DATA sigc<>+304(SB)/4, $0x3f000000
DATA sigc<>+308(SB)/4, $0x3f000000
DATA sigc<>+312(SB)/4, $0x3f000000
DATA sigc<>+316(SB)/4, $0x3f000000
// hi
DATA sigc<>+320(SB)/4, $0x42b00000
DATA sigc<>+324(SB)/4, $0x42b00000
DATA sigc<>+328(SB)/4, $0x42b00000
DATA sigc<>+332(SB)/4, $0x42b00000
DATA sigc<>+336(SB)/4, $0x42b00000
DATA sigc<>+340(SB)/4, $0x42b00000
DATA sigc<>+344(SB)/4, $0x42b00000
DATA sigc<>+348(SB)/4, $0x42b00000
// lo
DATA sigc<>+352(SB)/4, $0xc2ac0000
DATA sigc<>+356(SB)/4, $0xc2ac0000
DATA sigc<>+360(SB)/4, $0xc2ac0000
DATA sigc<>+364(SB)/4, $0xc2ac0000
DATA sigc<>+368(SB)/4, $0xc2ac0000
DATA sigc<>+372(SB)/4, $0xc2ac0000
DATA sigc<>+376(SB)/4, $0xc2ac0000
DATA sigc<>+380(SB)/4, $0xc2ac0000
// sign
DATA sigc<>+384(SB)/4, $0x80000000
DATA sigc<>+388(SB)/4, $0x80000000
DATA sigc<>+392(SB)/4, $0x80000000
DATA sigc<>+396(SB)/4, $0x80000000
DATA sigc<>+400(SB)/4, $0x80000000
DATA sigc<>+404(SB)/4, $0x80000000
DATA sigc<>+408(SB)/4, $0x80000000
DATA sigc<>+412(SB)/4, $0x80000000
GLOBL sigc<>(SB), RODATA|NOPTR, $416

// func sigmoidF32(d, a *float32, n int)
// d[i] = 1/(1+exp(−a[i])) for i < n&^7, to within 2 ulp of the float64
// formula rounded. exp's argument is clamped to [−86, 88], where 2ⁿ stays a
// normal float (σ is then 1 or below 7e−39, as it should be); MINPS and
// MAXPS keep the clamp from hiding a NaN, so a diverged step stays NaN.
TEXT ·sigmoidF32(SB), NOSPLIT, $0-24
	MOVQ d+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ n+16(FP), CX
	ANDQ $-8, CX
	VMOVUPS sigc<>+0(SB), Y15   // 1
	VMOVUPS sigc<>+32(SB), Y11  // log₂e
	VMOVUPS sigc<>+64(SB), Y10  // ln2, high part
	VMOVUPS sigc<>+96(SB), Y9   // ln2, low part
	VMOVUPS sigc<>+128(SB), Y8  // p0
	VMOVUPS sigc<>+320(SB), Y14 // 88
	VMOVUPS sigc<>+352(SB), Y13 // −86
	VMOVUPS sigc<>+384(SB), Y12 // sign bit
	XORQ BX, BX

sig8:
	CMPQ BX, CX
	JGE  sigdone
	VMOVUPS (SI)(BX*4), Y0
	VXORPS Y12, Y0, Y0           // t = −x
	VMINPS Y0, Y14, Y0           // min(88, t); a NaN t is kept
	VMAXPS Y0, Y13, Y0           // max(−86, t); likewise
	VMULPS Y11, Y0, Y1
	VROUNDPS $0, Y1, Y1          // n = round(t·log₂e)
	VMOVAPS Y0, Y2
	VFNMADD231PS Y10, Y1, Y2     // r = t − n·ln2hi
	VFNMADD231PS Y9, Y1, Y2      // r −= n·ln2lo
	VMOVAPS Y8, Y3
	VFMADD213PS sigc<>+160(SB), Y2, Y3 // y = y·r + p1
	VFMADD213PS sigc<>+192(SB), Y2, Y3 // … + p2
	VFMADD213PS sigc<>+224(SB), Y2, Y3 // … + p3
	VFMADD213PS sigc<>+256(SB), Y2, Y3 // … + p4
	VFMADD213PS sigc<>+288(SB), Y2, Y3 // … + p5
	VMULPS Y2, Y2, Y4
	VFMADD213PS Y2, Y4, Y3       // y = y·r² + r
	VADDPS Y15, Y3, Y3           // eʳ = y + 1
	VCVTPS2DQ Y1, Y5
	VPSLLD $23, Y5, Y5
	VPADDD Y5, Y3, Y3            // eᵗ = eʳ·2ⁿ
	VADDPS Y15, Y3, Y3
	VDIVPS Y3, Y15, Y3           // σ = 1/(1 + eᵗ)
	VMOVUPS Y3, (DI)(BX*4)
	ADDQ $8, BX
	JMP  sig8

sigdone:
	VZEROUPPER
	RET
