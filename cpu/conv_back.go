package cpu

import (
	"slices"

	"github.com/gputrain/gputrain/graph"
)

// patchGrads is a convolution's patch gradient fused with the col2im
// that sums it back into the input's gradient, image by image. The
// program computes the patches' gradient δ·W for the whole batch (1.3 MB
// at batch 10 for the second convolution, more than a core's L2 cache)
// and col2im then reads it back from memory; here each image's product
// goes to a scratch of its chunk's (128 KB), and col2im reads it from
// cache at once. Each image's rows are the same products (the same
// coefficients, in the same order) and its col2im the same sums, so the
// result is the same bit for bit.
type patchGrads[T Float] struct {
	images []gemm[T] // image n's rows of the product, into its chunk's scratch
	col2im func(n int, grads []T)
	chunked
}

func (pg *patchGrads[T]) chunk(i int) {
	lo, hi := split(len(pg.images), pg.chunks, i, 1)
	for n := lo; n < hi; n++ {
		g := &pg.images[n]
		g.block(0, g.m, 0, g.n)
		pg.col2im(n, g.c)
	}
}

// fuseCol2im finds each product whose only reader is the col2im right
// after it, an axpy-form product split by images (the patches' gradient),
// and plans the pair as one patchGrads in the product's step; col2im's
// step then does nothing.
func (m *Machine[T]) fuseCol2im() {
	p := m.P
	for i := 0; i+1 < len(p.Instrs); i++ {
		mm, ci := p.Instrs[i], p.Instrs[i+1]
		g, c := m.steps[i].gemm, &m.steps[i+1]
		if ci.Op != graph.Col2Im || c.sk == nil || g == nil || g.transA || g.transB || g.beta != 0 {
			continue
		}
		st := p.Storage(mm.Dst)
		if p.Storage(ci.A) != st || p.Bufs[st].Kind != graph.Temp || !onlyReader(p, st, i+1) {
			continue
		}
		images := c.sh.A[0]
		hw := c.sh.A[1] * c.sh.A[2]
		if g.m != images*hw {
			continue
		}
		// Image n's rows of A: hw positions of its NCHW maps, or hw rows.
		perA := hw * g.lda
		if g.mapsA > 0 {
			perA = hw * g.mapsA
		}
		pg := &patchGrads[T]{images: make([]gemm[T], images)}
		pg.chunks = 1
		if m.pool != nil && 2*g.m*g.n*g.k >= parallelFlops {
			pg.chunks = min(images, chunksPerWorker*m.pool.size())
		}
		for k := range pg.chunks {
			lo, hi := split(images, pg.chunks, k, 1)
			grads := make([]T, hw*g.n) // one image's at a time
			for n := lo; n < hi; n++ {
				one := *g
				one.m, one.a, one.c, one.chunks, one.job = hw, g.a[n*perA:], grads, 1, nil
				pg.images[n] = one
			}
		}
		one := graph.Shapes{D: slices.Clone(c.sh.D), A: slices.Clone(c.sh.A)}
		one.D[0], one.A[0] = 1, 1
		d, sk := c.d, c.sk
		perD := len(d) / images
		pg.col2im = func(n int, grads []T) { sk(d[n*perD:][:perD], grads, nil, one, 0, 0) }
		pg.job = pg.chunk
		m.steps[i] = step[T]{grads: pg}
		m.steps[i+1] = step[T]{skip: true}
		i++
	}
}

// onlyReader reports whether instruction j is the only one that reads
// storage st.
func onlyReader(p *graph.Program, st, j int) bool {
	for i, in := range p.Instrs {
		if i != j && readsStorage(p, in, st) {
			return false
		}
	}
	return true
}
