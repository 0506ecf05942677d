package cpu

// A convolution's weight gradient sums over every position of every image
// of the batch. Split over the cores by columns of W, as other products
// are, each core read every image's patches and gradients, half of them
// from the other core's cache; and the step that wrote them next had to
// take each of those lines back before writing it: at batch 10 the
// forward product of chapter 6's second convolution, whose im2col rewrites
// its patches, took 1.5× the core time on two cores that it took on one.
//
// So these sums run in two halves by images, the first half's images
// summed into W and the second's into a sum of their own, which is then
// added to W: each core sums the images it computed the steps before. The
// halves are fixed by the batch (⌊images/2⌋ in the first), never by the
// cores, so the result is the same on one core as on many; it differs
// from one sum over all the images in rounding only.

// planSplit sets up the two halves for a weight gradient read from NCHW
// maps (transA, mapsA), wide enough for the vector kernels; any other
// product keeps one sum.
func (g *gemm[T]) planSplit() {
	g.split = 0
	if !g.transA || g.mapsA == 0 || g.n < lanes[T]() {
		return
	}
	images := g.k / g.hwA
	if images < 2 {
		return
	}
	g.split = images / 2 * g.hwA
	if len(g.sum) != g.m*g.n {
		g.sum = make([]T, g.m*g.n)
	}
}

// half computes columns [c0,c1) of half h of the sum: the first into C
// with β, the second into g.sum.
func (g *gemm[T]) half(h, c0, c1 int) {
	if h == 0 {
		g.axpyTerms(0, g.m, c0, c1, 0, g.split)
		return
	}
	s := *g
	s.c, s.ldc, s.beta = g.sum, g.n, 0
	s.axpyTerms(0, g.m, c0, c1, g.split, g.k)
}

// addSum adds the second half's sum to C.
func (g *gemm[T]) addSum() { addRows(g.c, g.ldc, g.sum, g.m, g.n) }

// addRows adds sum (rows×n, dense) to the rows of c (row stride ldc).
func addRows[T Float](c []T, ldc int, sum []T, rows, n int) {
	for i := range rows {
		crow, srow := c[i*ldc:][:n], sum[i*n:][:n]
		for x := range crow {
			crow[x] += srow[x]
		}
	}
}
