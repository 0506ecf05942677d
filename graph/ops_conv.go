package graph

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/gputrain/gputrain/graph/dropout"
)

// ShapedKernel is the CPU kernel of an op that reads its operands'
// shapes (Buf.Dims): chapter 6's convolution and pooling. Like Kernel it
// is the portable reference a backend may replace only with the same
// arithmetic.
type ShapedKernel[T float32 | float64] func(d, a, b []T, s Shapes, alpha, beta T)

// Shapes are an instruction's operand shapes; B is nil for an op that
// reads no B.
type Shapes struct{ D, A, B []int }

// InstrShapes returns the shapes a shaped kernel of in is called with.
func (p *Program) InstrShapes(in Instr) Shapes {
	s := Shapes{D: p.Bufs[in.Dst].Dims(), A: p.Bufs[in.A].Dims()}
	if in.Op.Def().Form.ReadsB() {
		s.B = p.Bufs[in.B].Dims()
	}
	return s
}

// checkConv checks the operand shapes of chapter 6's forms.
func checkConv(f Form, in Instr, d, a, b Buf) error {
	dd, ad, bd := d.Dims(), a.Dims(), b.Dims()
	rank4 := func(s ...[]int) bool {
		for _, x := range s {
			if len(x) != 4 {
				return false
			}
		}
		return true
	}
	bad := func() error { return fmt.Errorf("shapes %v, %v into %v (α=%g)", ad, bd, dd, in.Alpha) }
	switch f {
	case FormIm2Col, FormCol2Im:
		im, col := ad, dd
		if f == FormCol2Im {
			im, col = dd, ad
		}
		if !rank4(im, col) || col[0] != im[0] || col[1] < 1 || col[2] < 1 {
			return bad()
		}
		fh, fw := im[2]-col[1]+1, im[3]-col[2]+1
		if fh != fw || col[3] != im[1]*fh*fw {
			return bad()
		}
	case FormPermute:
		want := map[float64][]int{0: {0, 3, 1, 2}, 1: {0, 2, 3, 1}}[in.Alpha]
		if want == nil || !rank4(ad, dd) {
			return bad()
		}
		for i, j := range want {
			if dd[i] != ad[j] {
				return bad()
			}
		}
	case FormPool, FormPoolBack:
		im, pooled := ad, dd
		if f == FormPoolBack {
			im, pooled = dd, ad
			if !slices.Equal(bd, dd) {
				return bad()
			}
		}
		p := int(in.Alpha)
		if float64(p) != in.Alpha || p < 1 || !rank4(im, pooled) || pooled[0] != im[0] || pooled[1] != im[1] ||
			pooled[2] != im[2]/p || pooled[3] != im[3]/p {
			return bad()
		}
	case FormMap:
		inner := int(in.Alpha)
		if float64(inner) != in.Alpha || inner < 1 || a.Len() != d.Len() || b.Len() < 1 || d.Len()%(inner*b.Len()) != 0 {
			return bad()
		}
	case FormGroups:
		if d.Len() < 1 || a.Len()%d.Len() != 0 {
			return bad()
		}
	case FormMask:
		if a.Len() != dropout.KeyWords || !(in.Alpha >= 0 && in.Alpha < 1) || in.Beta < 0 || in.Beta != float64(int(in.Beta)) {
			return bad()
		}
	default:
		return fmt.Errorf("unknown form %d", f)
	}
	return nil
}

// im2col copies each output position's f×f patch over every input map:
// row (n, y, x) of d holds a[n, c, y+i, x+j] at column (c·f + i)·f + j,
// the filter layout (filters × maps × f × f) that Conv2d's product reads.
// It takes one input row at a time, for every x of the output row: the
// patches of one output row lie within a few kilobytes of d.
func im2col[T float32 | float64](d, a, _ []T, s Shapes, _, _ T) {
	m, c, h, w := s.A[0], s.A[1], s.A[2], s.A[3]
	oh, ow, k := s.D[1], s.D[2], s.D[3]
	f := h - oh + 1
	for n := range m {
		for y := range oh {
			out := d[(n*oh+y)*ow*k:][:ow*k]
			for ch := range c {
				for i := range f {
					src := a[((n*c+ch)*h+y+i)*w:][:w]
					col := (ch*f + i) * f
					if f == 5 { // the book's filters, unrolled
						copyPatches5(out[col:], src, ow, k)
						continue
					}
					for x := range ow {
						dst, patch := out[x*k+col:][:f], src[x:][:f]
						for j := range dst {
							dst[j] = patch[j]
						}
					}
				}
			}
		}
	}
}

// copyPatches5 copies src[x:x+5] to d[x·k:] for each x < ow: one input
// row's part of ow patches. The bounds are checked once, for the last
// patch, and each patch moves as its first four values in one or two
// 16-byte moves and then its fifth: written as slice expressions and five
// moves, the indexing and bounds checks took more instructions than the
// copy (about 20% of im2col's time, measured on the book's second
// convolution).
func copyPatches5[T float32 | float64](d, src []T, ow, k int) {
	if ow == 0 {
		return
	}
	_, _ = d[(ow-1)*k+4], src[ow+3]
	const quad = 4 // the values moved 16 bytes at a time
	size := unsafe.Sizeof(d[0])
	dp, sp := unsafe.Pointer(&d[0]), unsafe.Pointer(&src[0])
	for x := range ow {
		to, from := unsafe.Add(dp, uintptr(x*k)*size), unsafe.Add(sp, uintptr(x)*size)
		for b := uintptr(0); b < quad*size; b += 16 {
			*(*[2]uint64)(unsafe.Add(to, b)) = *(*[2]uint64)(unsafe.Add(from, b))
		}
		*(*T)(unsafe.Add(to, quad*size)) = *(*T)(unsafe.Add(from, quad*size))
	}
}

// col2im adds each patch gradient back to the input position it came
// from: im2col's transpose. Each input position takes its terms in the
// order of the output positions (y, then x) that im2col copied it to.
func col2im[T float32 | float64](d, a, _ []T, s Shapes, _, _ T) {
	m, c, h, w := s.D[0], s.D[1], s.D[2], s.D[3]
	oh, ow, k := s.A[1], s.A[2], s.A[3]
	f := h - oh + 1
	clear(d)
	for n := range m {
		for y := range oh {
			in := a[(n*oh+y)*ow*k:][:ow*k]
			for ch := range c {
				for i := range f {
					dst := d[((n*c+ch)*h+y+i)*w:][:w]
					col := (ch*f + i) * f
					if f == 5 { // the book's filters
						addPatches5(dst, in[col:], ow, k)
						continue
					}
					for x := range ow {
						sum, patch := dst[x:][:f], in[x*k+col:][:f]
						for j := range sum {
							sum[j] += patch[j]
						}
					}
				}
			}
		}
	}
}

// addPatches5 is col2im's inner loop for 5-wide filters: dst[x+j] +=
// patch x's tap j, x in order. The five positions a patch touches are
// carried in registers from one x to the next, where adding in place
// made each patch's sums wait on the stores of the one before it
// (positions overlap four of five); every position still takes its terms
// in the order of x, so the sums are the same bit for bit.
func addPatches5[T float32 | float64](dst, in []T, ow, k int) {
	dst = dst[:ow+4]
	s0, s1, s2, s3, s4 := dst[0], dst[1], dst[2], dst[3], dst[4]
	for x := range ow {
		p := in[x*k:][:5]
		s0 += p[0]
		s1 += p[1]
		s2 += p[2]
		s3 += p[3]
		s4 += p[4]
		dst[x] = s0
		s0, s1, s2, s3 = s1, s2, s3, s4
		if x+5 < len(dst) {
			s4 = dst[x+5]
		}
	}
	dst[ow], dst[ow+1], dst[ow+2], dst[ow+3] = s0, s1, s2, s3
}

// permute moves the maps axis: (m, h, w, c) → (m, c, h, w) for α 0, back
// for α 1. It takes permuteBlock positions of an image at a time over
// every map, so that both sides of the copy stay in the L1 cache.
func permute[T float32 | float64](d, a, _ []T, s Shapes, alpha, _ T) {
	m, c, h, w := s.D[0], s.D[1], s.D[2], s.D[3]
	if alpha != 0 {
		m, c, h, w = s.A[0], s.A[1], s.A[2], s.A[3]
	}
	hw := h * w
	for n := range m {
		nhwc := d[n*hw*c:][:hw*c]
		nchw := a[n*hw*c:][:hw*c]
		if alpha == 0 {
			nhwc, nchw = nchw, nhwc
		}
		// nhwc is read from and nchw written to for α 0, the other way for α 1.
		for p0 := 0; p0 < hw; p0 += permuteBlock {
			p1 := min(p0+permuteBlock, hw)
			rows := nhwc[p0*c : p1*c]
			for ch := range c {
				plane := nchw[ch*hw+p0 : ch*hw+p1]
				if alpha == 0 {
					for p := range plane {
						plane[p] = rows[p*c+ch]
					}
				} else {
					for p, v := range plane {
						rows[p*c+ch] = v
					}
				}
			}
		}
	}
}

// permuteBlock is the positions permute takes at a time: a few cache
// lines of each map's plane.
const permuteBlock = 64

// poolArg is the index into a of the first largest value of the p×p
// window at pooled position (y, x) of the map that starts at base.
func poolArg[T float32 | float64](a []T, base, w, p, y, x int) int {
	best := base + y*p*w + x*p
	if p == 2 { // network3's pool
		if at, ok := argmax4(a[best], a[best+1], a[best+w], a[best+w+1]); ok {
			return best + at>>1*w + at&1
		}
	}
	for i := range p {
		for j := range p {
			if at := base + (y*p+i)*w + x*p + j; a[at] > a[best] {
				best = at
			}
		}
	}
	return best
}

// argmax4 is poolArg's choice among a 2×2 window's inputs (top left, top
// right, bottom left, bottom right) without a branch on the data: which
// is largest is a coin toss, and a branch on it is mispredicted half the
// time. Each input is compared with the largest before it, as poolArg's
// loop does; max gives that one's value, which compares as poolArg's
// running value does (−0 and 0 compare equal). A NaN, which max would
// carry on where the loop skips it, is left to the loop (ok false).
func argmax4[T float32 | float64](v0, v1, v2, v3 T) (at int, ok bool) {
	if s := v0 + v1 + v2 + v3; s != s {
		return 0, false
	}
	m := max(v0, v1)
	c2, c3 := v2 > m, v3 > max(m, v2)
	if v1 > v0 {
		at = 1
	}
	if c2 {
		at = 2
	}
	if c3 {
		at = 3
	}
	return at, true
}

// maxPool takes the largest value of each whole window (network3's
// ignore_border).
func maxPool[T float32 | float64](d, a, _ []T, s Shapes, alpha, _ T) {
	h, w := s.A[2], s.A[3]
	oh, ow, p := s.D[2], s.D[3], int(alpha)
	if p == 2 { // network3's pool: the largest value, whichever input it is
		k := 0
		for base := 0; base < len(a); base += h * w {
			for y := range oh {
				top := a[base+2*y*w:][:2*ow]
				bottom := a[base+(2*y+1)*w:][:2*ow]
				out := d[k : k+ow]
				for x := range out {
					out[x] = max(top[2*x], top[2*x+1], bottom[2*x], bottom[2*x+1])
				}
				k += ow
			}
		}
		return
	}
	k := 0
	for base := 0; base < len(a); base += h * w {
		for y := range oh {
			for x := range ow {
				d[k] = a[poolArg(a, base, w, p, y, x)]
				k++
			}
		}
	}
}

// maxPoolBack passes each window's gradient to the input maxPool took,
// the first of its largest, which it finds again in the pool's input b:
// no index buffer to keep between the passes. Every other input of a
// window gets 0, and so does one outside every window (ignore_border's
// last rows and columns), so nothing is cleared first; the gradient is
// added to that 0, as into a cleared buffer (0 + −0 is 0).
func maxPoolBack[T float32 | float64](d, a, b []T, s Shapes, alpha, _ T) {
	h, w := s.D[2], s.D[3]
	oh, ow, p := s.A[2], s.A[3], int(alpha)
	if oh*p != h || ow*p != w {
		clear(d)
	}
	if p == 2 {
		maxPoolBack2(d, a, b, h, w, oh, ow)
		return
	}
	k := 0
	for base := 0; base < len(b); base += h * w {
		for y := range oh {
			for x := range ow {
				best := poolArg(b, base, w, p, y, x)
				for i := range p {
					clear(d[base+(y*p+i)*w+x*p:][:p])
				}
				d[best] = a[k] + 0 // −0 becomes 0, as added into a cleared buffer
				k++
			}
		}
	}
}

// maxPoolBack2 is maxPoolBack of network3's 2×2 pool, a pair of rows at a
// time: the rows cleared whole, then each window's gradient stored at its
// argmax, found as poolArg finds it but without a branch on the data
// (which input is largest is a coin toss, and a branch on it is
// mispredicted half the time).
func maxPoolBack2[T float32 | float64](d, a, b []T, h, w, oh, ow int) {
	k := 0
	for base := 0; base < len(b); base += h * w {
		for y := range oh {
			at0, at1 := base+2*y*w, base+(2*y+1)*w // the pair of rows
			top, bottom := b[at0:][:2*ow], b[at1:][:2*ow]
			clear(d[at0:][:2*ow])
			clear(d[at1:][:2*ow])
			grad := a[k : k+ow]
			k += ow
			for x, g := range grad {
				g += 0 // −0 becomes 0, as added into a cleared buffer
				v0, v1, v2, v3 := top[2*x], top[2*x+1], bottom[2*x], bottom[2*x+1]
				m01 := max(v0, v1)
				m012 := max(m01, v2)
				if m := max(m012, v3); m != m { // a NaN, which max carries on where poolArg's loop skips it
					d[poolArg(b, base, w, 2, y, x)] = g
					continue
				}
				// Each input against the largest before it, as poolArg's loop
				// compares them (−0 and 0 compare equal).
				at := at0 + 2*x
				if v1 > v0 {
					at++
				}
				if v2 > m01 {
					at = at1 + 2*x
				}
				if v3 > m012 {
					at = at1 + 2*x + 1
				}
				d[at] = g
			}
		}
	}
}

func addMap[T float32 | float64](d, a, b []T, inner, _ T) {
	n, c := int(inner), len(b)
	a = a[:len(d)]
	for i := 0; i < len(d); i += n * c {
		for ch, v := range b {
			lo := i + ch*n
			for j := lo; j < lo+n; j++ {
				d[j] = a[j] + v
			}
		}
	}
}

func sumInner[T float32 | float64](d, a, _ []T, _, _ T) {
	k := len(a) / len(d)
	for o := range d {
		var s T
		for _, v := range a[o*k : (o+1)*k] {
			s += v
		}
		d[o] = s
	}
}

// dropoutMask draws layer beta's mask for the step whose key a holds:
// unit u (image × inputs + input) is kept with probability 1 − alpha. A
// float32 program holds p as float32(p), and so do the CUDA kernels.
func dropoutMask[T float32 | float64](d, a, _ []T, alpha, beta T) {
	key, layer, th := dropout.GetKey(a), int(beta), dropout.Threshold(float64(alpha))
	for u := range d {
		d[u] = 0
		if dropout.KeyBits(key, layer, u)>>11 >= th {
			d[u] = 1
		}
	}
}
