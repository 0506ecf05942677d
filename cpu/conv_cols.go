package cpu

import (
	"unsafe"

	"github.com/gputrain/gputrain/graph"
)

// This file lays a convolution's patches out the other way round on the
// CPU. The program's im2col gives each output position a row of its patch
// (positions × taps, the layout Conv2d's product reads), so the forward
// product is one dot product of length taps per position and map, and the
// weight gradient sums over positions down the rows' columns. With 25 taps
// (the first convolution's 5×5 over one map) both are mostly vector tails
// and gathers: at batch 10 they took a third of a chapter 6 step. Where
// only those two products read the patches, the machine writes them
// transposed instead, per image taps × positions (each row the input map
// shifted by one tap, so a run of output-row length copied at a time), and
// computes
//
//	forward:  z_n (maps × positions) = W · colsᵀ_n, the axpy form over the positions;
//	gradient: W ← β·W + α·Σ_n δ_n · colsᵀ_nᵀ, dot products along the positions, image by image,
//
// δ_n being the gradient's NCHW maps as the program holds them (in two
// halves by images, see imagesplit.go). Each value is the same sum as
// before in another order, so results agree with the program's to
// rounding, not bit for bit; any split over cores leaves them unchanged.

// transposedCols is the weight gradient's per-image products, in two
// halves by images as imagesplit.go explains: the first half's images
// summed into W, the rest into sum (their products point there), then
// added. A half is split further by columns of W (taps) on more than two
// cores, whole blocks of the dot kernels' three: each chunk takes its
// columns through its images in turn, so each element's sum keeps one
// order whatever the split.
type transposedCols[T Float] struct {
	images []gemm[T]
	half   int // images in the first half; 0: one sum, into W
	pieces int // column pieces of each half
	sum    []T // the second half's sum, maps × taps
	chunked
}

func (tc *transposedCols[T]) chunk(i int) {
	g0 := &tc.images[0]
	lo, hi := split(g0.n, tc.pieces, i%tc.pieces, dotCols)
	images := tc.images
	if tc.half > 0 {
		images = images[:tc.half]
		if i >= tc.pieces {
			images = tc.images[tc.half:]
		}
	}
	for n := range images {
		images[n].block(0, g0.m, lo, hi)
	}
}

func (tc *transposedCols[T]) run(p *pool) {
	if p == nil || tc.chunks <= 1 {
		for n := range tc.images {
			tc.images[n].block(0, tc.images[n].m, 0, tc.images[n].n)
		}
	} else {
		p.run(tc.chunks, tc.job)
	}
	if tc.half > 0 {
		g := &tc.images[0]
		addRows(g.c, g.ldc, tc.sum, g.m, g.n)
	}
}

// transposeCols finds each im2col whose patches are read by nothing but
// its convolution's fused forward product and its weight gradient (read
// from NCHW maps), and switches the three to the transposed layout.
func (m *Machine[T]) transposeCols() {
	p := m.P
	for i, in := range p.Instrs {
		if in.Op != graph.Im2Col || m.steps[i].skip {
			continue
		}
		st := p.Storage(in.Dst)
		if p.Bufs[st].Kind != graph.Temp {
			continue
		}
		fwd, grad, ok := -1, -1, true
		for j, r := range p.Instrs {
			if !readsStorage(p, r, st) {
				continue
			}
			s := &m.steps[j]
			switch {
			case j > i && s.permuted != nil && p.Storage(r.A) == st && fwd < 0:
				fwd = j
			case j > i && s.gemm != nil && s.gemm.transA && s.gemm.mapsA > 0 && p.Storage(r.B) == st && grad < 0:
				grad = j
			default:
				ok = false
			}
			if p.Storage(r.Dst) == st && j != i {
				ok = false // the storage is reused for another value
			}
		}
		sh := p.InstrShapes(in) // D (images, oh, ow, taps), A (images, maps, h, w)
		images, hw, taps := sh.D[0], sh.D[1]*sh.D[2], sh.D[3]
		// Only where the patches are shorter than the maps: with 500 taps
		// over 64 positions (the second convolution) the products run
		// faster as the program has them.
		if !ok || fwd < 0 || taps >= hw {
			continue
		}
		cols := m.steps[i].d
		m.steps[i].kernel, m.steps[i].sk = func(d, a, _ []T, _, _ T) { im2colT(d, a, sh) }, im2colTShaped[T]
		if m.steps[i].shaped != nil {
			m.steps[i].shaped = newShapedJobOf(im2colTShaped[T], sh, &m.steps[i], chunksPerWorker*m.pool.size())
		}
		// The forward product, per image: z_n = W · colsᵀ_n.
		pp := m.steps[fwd].permuted
		for n := range pp.images {
			g := &pp.images[n]
			*g = gemm[T]{
				m: g.m, n: hw, k: taps, alpha: g.alpha,
				a: g.a, lda: g.lda,
				b: cols[n*taps*hw:][:taps*hw], ldb: hw,
				c: g.c, ldc: hw,
			}
		}
		if grad < 0 {
			continue
		}
		// The weight gradient, per image: W ← β·W + α·δ_n·(colsᵀ_n)ᵀ, β
		// once, on the first image; the second half's images start their
		// own sum.
		old := m.steps[grad].gemm
		maps := old.m
		tc := &transposedCols[T]{images: make([]gemm[T], images), half: images / 2, pieces: 1}
		if tc.half > 0 {
			tc.sum = make([]T, maps*taps)
		}
		for n := range tc.images {
			beta, c, ldc := old.beta, old.c, old.ldc
			switch {
			case tc.half > 0 && n == tc.half:
				beta, c, ldc = 0, tc.sum, taps
			case tc.half > 0 && n > tc.half:
				beta, c, ldc = 1, tc.sum, taps
			case n > 0:
				beta = 1
			}
			tc.images[n] = gemm[T]{
				transB: true, m: maps, n: taps, k: hw, alpha: old.alpha, beta: beta,
				a: old.a[n*maps*hw:][:maps*hw], lda: hw,
				b: cols[n*taps*hw:][:taps*hw], ldb: hw,
				c: c, ldc: ldc,
			}
		}
		tc.chunks = 1
		if m.pool != nil && 2*images*maps*taps*hw >= parallelFlops {
			tc.pieces = max(1, min((taps+dotCols-1)/dotCols, m.pool.size()/2))
			tc.chunks = 2 * tc.pieces
			if tc.half == 0 {
				tc.chunks = tc.pieces
			}
		}
		tc.job = tc.chunk
		m.steps[grad].gemm, m.steps[grad].cols = nil, tc
	}
}

// readsStorage reports whether instruction in reads storage st.
func readsStorage(p *graph.Program, in graph.Instr, st int) bool {
	for _, b := range in.Reads() {
		if p.Storage(b) == st {
			return true
		}
	}
	return false
}

func im2colTShaped[T Float](d, a, _ []T, s graph.Shapes, _, _ T) { im2colT(d, a, s) }

// im2colT writes each image's patches as taps × positions: row (c, i, j)
// holds a[n, c, y+i, x+j] at column y·ow + x, one output row's run of ow
// inputs copied at a time.
func im2colT[T Float](d, a []T, s graph.Shapes) {
	m, c, h, w := s.A[0], s.A[1], s.A[2], s.A[3]
	oh, ow, taps := s.D[1], s.D[2], s.D[3]
	f := h - oh + 1
	hw := oh * ow
	for n := range m {
		out := d[n*taps*hw:][:taps*hw]
		for ch := range c {
			plane := a[(n*c+ch)*h*w:][:h*w]
			for i := range f {
				for j := range f {
					row := out[((ch*f+i)*f+j)*hw:][:hw]
					for y := range oh {
						copyRun(row[y*ow:][:ow], plane[(y+i)*w+j:][:ow])
					}
				}
			}
		}
	}
}

// copyRun copies a short run (an output row: 24 or 8 values in the book's
// networks) 16 bytes at a time, where copy calls memmove for every run
// and a loop of single values spends more on indexing than on moving.
func copyRun[T Float](dst, src []T) {
	n := len(dst)
	if n == 0 {
		return
	}
	src = src[:n]
	size := unsafe.Sizeof(dst[0])
	end := uintptr(n) * size
	dp, sp := unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0])
	b := uintptr(0)
	for ; b+16 <= end; b += 16 {
		*(*[2]uint64)(unsafe.Add(dp, b)) = *(*[2]uint64)(unsafe.Add(sp, b))
	}
	for ; b < end; b += size {
		*(*T)(unsafe.Add(dp, b)) = *(*T)(unsafe.Add(sp, b))
	}
}
