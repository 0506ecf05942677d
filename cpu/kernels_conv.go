package cpu

import (
	"slices"

	"github.com/gputrain/gputrain/graph"
)

// shapedKernel binds an op's shaped kernel (convolution, pooling) to its
// operands' shapes once, when the machine plans the program, so a step
// runs it as any other kernel and allocates nothing.
func shapedKernel[T Float](def *graph.OpDef, s graph.Shapes) graph.Kernel[T] {
	sk := shapedOf[T](def)
	return func(d, a, b []T, alpha, beta T) { sk(d, a, b, s, alpha, beta) }
}

func shapedOf[T Float](def *graph.OpDef) graph.ShapedKernel[T] {
	var k any = def.Shaped64
	if _, ok := any(T(0)).(float32); ok {
		k = def.Shaped32
		switch def {
		case graph.MaxPool.Def():
			k = graph.ShapedKernel[float32](maxPool32)
		case graph.MaxPoolBack.Def():
			k = graph.ShapedKernel[float32](maxPoolBack32)
		}
	}
	return k.(graph.ShapedKernel[T])
}

// parallelShaped is the size (elements read and written) above which a
// shaped kernel is split over the pool: im2col, pooling and their
// gradients on one core took about a third of a chapter 6 step while the
// products ran on every core.
const parallelShaped = 1 << 14

// shapedJob splits a shaped kernel over the pool by images: every operand
// of these ops has the images on its first axis, and each image's output
// depends on that image's input alone, so a chunk of images is the same
// kernel on shorter operands, and the result is the same bit for bit.
type shapedJob[T Float] struct {
	parts []shapedPart[T]
	job   func(int)
}

// shapedPart is one chunk of images: the operands' slices and shapes.
type shapedPart[T Float] struct {
	d, a, b     []T
	s           graph.Shapes
	alpha, beta T
	k           graph.ShapedKernel[T]
}

// newShapedJob plans the split of step s (an instruction of form
// def.Form with shapes sh) into at most chunks pieces, or returns nil
// where the op is too small or has a single image.
func newShapedJob[T Float](def *graph.OpDef, sh graph.Shapes, s *step[T], chunks int) *shapedJob[T] {
	return newShapedJobOf(shapedOf[T](def), sh, s, chunks)
}

// newShapedJobOf is newShapedJob of kernel k.
func newShapedJobOf[T Float](k graph.ShapedKernel[T], sh graph.Shapes, s *step[T], chunks int) *shapedJob[T] {
	m := sh.D[0]
	if m < 2 || len(s.d)+len(s.a)+len(s.b) < parallelShaped {
		return nil
	}
	chunks = min(chunks, m)
	j := &shapedJob[T]{}
	// part cuts the images [lo, hi) out of an operand of shape dims.
	part := func(x []T, dims []int, lo, hi int) ([]T, []int) {
		if dims == nil {
			return nil, nil
		}
		per := len(x) / dims[0]
		sub := slices.Clone(dims)
		sub[0] = hi - lo
		return x[lo*per : hi*per], sub
	}
	for i := range chunks {
		lo, hi := split(m, chunks, i, 1)
		if lo == hi {
			continue
		}
		p := shapedPart[T]{alpha: s.alpha, beta: s.beta, k: k}
		p.d, p.s.D = part(s.d, sh.D, lo, hi)
		p.a, p.s.A = part(s.a, sh.A, lo, hi)
		p.b, p.s.B = part(s.b, sh.B, lo, hi)
		j.parts = append(j.parts, p)
	}
	j.job = func(i int) { p := &j.parts[i]; p.k(p.d, p.a, p.b, p.s, p.alpha, p.beta) }
	return j
}

// chunked is a job of chunks, the pieces a planned step hands the pool.
type chunked struct {
	chunks int       // ≤ 1 runs on the caller alone
	job    func(int) // one chunk
}

func (c *chunked) run(p *pool) {
	if p == nil || c.chunks <= 1 {
		c.job(0)
		return
	}
	p.run(c.chunks, c.job)
}

// permutedProduct is a convolution's forward product fused with the
// permute after it: Conv2d's product gives each position's maps (m·h·w ×
// c, NHWC) and the permute moves them to NCHW for the pooling. Where the
// product's result has no other reader, the machine computes it per image
// as W·colsᵀ (c × h·w) straight into the permute's output: neither the
// NHWC buffer nor the permute's pass over it remain. Each element is the
// same dot product of the same two rows with the operands swapped, which
// the kernels compute alike (a·b = b·a, and so are their fused sums), so
// the result is the same bit for bit.
type permutedProduct[T Float] struct {
	images []gemm[T]
	chunked
	// patches, where set, writes image n's patches (the im2col before the
	// product, fused into it): the product then reads them from cache.
	patches func(n int)
}

func (pp *permutedProduct[T]) chunk(i int) {
	lo, hi := split(len(pp.images), pp.chunks, i, 1)
	for n := lo; n < hi; n++ {
		if pp.patches != nil {
			pp.patches(n)
		}
		g := &pp.images[n]
		g.block(0, g.m, 0, g.n)
	}
}

// fuseIm2col moves each im2col that a per-image forward product follows
// into that product, image by image: an image's patches (128 KB for the
// second convolution) are then read back from the core's cache, where the
// whole batch's (1.3 MB at batch 10) had left it for memory before the
// product began. Each image's patches are the same values, written before
// the product reads them, so the result is the same bit for bit.
func (m *Machine[T]) fuseIm2col() {
	p := m.P
	for i := 0; i+1 < len(p.Instrs); i++ {
		in, s, pp := p.Instrs[i], &m.steps[i], m.steps[i+1].permuted
		if in.Op != graph.Im2Col || s.sk == nil || pp == nil || p.Storage(p.Instrs[i+1].A) != p.Storage(in.Dst) {
			continue
		}
		images := s.sh.D[0]
		one := graph.Shapes{D: slices.Clone(s.sh.D), A: slices.Clone(s.sh.A)}
		one.D[0], one.A[0] = 1, 1
		d, a, sk := s.d, s.a, s.sk
		perD, perA := len(d)/images, len(a)/images
		pp.patches = func(n int) { sk(d[n*perD:][:perD], a[n*perA:][:perA], nil, one, 0, 0) }
		m.steps[i] = step[T]{skip: true}
	}
}

// fusePermutes finds each dot-form product whose only reader is the
// permute to NCHW right after it, and plans the pair as one
// permutedProduct in the product's step; the permute's step then does
// nothing.
func (m *Machine[T]) fusePermutes() {
	p := m.P
	readers := make(map[int]int)
	for _, in := range p.Instrs {
		for _, b := range in.Reads() {
			readers[p.Storage(b)]++
		}
	}
	for i := 0; i+1 < len(p.Instrs); i++ {
		mm, pe := p.Instrs[i], p.Instrs[i+1]
		if mm.Op != graph.MatMul || mm.TransA || !mm.TransB || mm.Beta != 0 || pe.Op != graph.Permute || pe.Alpha != 0 {
			continue
		}
		st := p.Storage(mm.Dst)
		if p.Storage(pe.A) != st || readers[st] != 1 || p.Bufs[st].Kind != graph.Temp {
			continue
		}
		dims := p.Bufs[pe.A].Dims() // (images, h, w, maps)
		rows, maps, k := p.MatMulDims(mm)
		images, hw := dims[0], dims[1]*dims[2]
		if rows != images*hw || maps != dims[3] {
			continue
		}
		s := &m.steps[i]
		pp := &permutedProduct[T]{images: make([]gemm[T], images)}
		for n := range pp.images {
			pp.images[n] = gemm[T]{
				transB: true, m: maps, n: hw, k: k, alpha: s.alpha,
				a: s.b, lda: p.Bufs[mm.B].Cols,
				b: s.a[n*hw*k:], ldb: p.Bufs[mm.A].Cols,
				c: m.steps[i+1].d[n*maps*hw:][:maps*hw], ldc: hw,
			}
		}
		pp.chunks = 1
		if m.pool != nil && 2*rows*maps*k >= parallelFlops {
			pp.chunks = min(images, chunksPerWorker*m.pool.size())
		}
		pp.job = pp.chunk
		s.gemm, s.permuted = nil, pp
		m.steps[i+1] = step[T]{skip: true}
		i++
	}
	m.fuseBackPermutes()
}

// fuseBackPermutes finds each permute of a gradient back to NHWC whose
// result only matrix products read, as their A and by rows (the axpy
// form: the convolution's weight gradient and its patches' gradient), and
// has those products read the NCHW gradient in place (gemm.mapsA); the
// permute's step then does nothing. The products read the same values in
// the same order, so the result is the same bit for bit.
func (m *Machine[T]) fuseBackPermutes() {
	p := m.P
	for j, pe := range p.Instrs {
		if pe.Op != graph.Permute || pe.Alpha != 1 || p.Bufs[p.Storage(pe.Dst)].Kind != graph.Temp {
			continue
		}
		st := p.Storage(pe.Dst)
		dims := p.Bufs[pe.A].Dims() // (images, maps, h, w)
		var readers []int
		ok := true
		for i, in := range p.Instrs {
			if !slices.ContainsFunc(in.Reads(), func(b int) bool { return p.Storage(b) == st }) {
				continue
			}
			ok = ok && in.Op == graph.MatMul && !in.TransB && p.Storage(in.A) == st && p.Storage(in.B) != st &&
				p.Storage(in.Dst) != st && m.steps[i].gemm != nil && i > j &&
				p.Bufs[in.A].Rows == dims[0]*dims[2]*dims[3] && p.Bufs[in.A].Cols == dims[1]
			readers = append(readers, i)
		}
		if !ok || len(readers) == 0 {
			continue
		}
		for _, i := range readers {
			g := m.steps[i].gemm
			g.a, g.mapsA, g.hwA = m.bufs[pe.A], dims[1], dims[2]*dims[3]
			g.plan(m.pool)
		}
		m.steps[j] = step[T]{skip: true}
	}
}
