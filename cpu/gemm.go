package cpu

import "unsafe"

// gemm is one matrix product C = α·op(A)·op(B) + β·C on row-major
// matrices: C is m×n with row stride ldc, op(A) m×k, op(B) k×n. A machine
// plans each of its products once, so a step allocates nothing.
type gemm[T Float] struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    T
	a, b, c        []T
	lda, ldb, ldc  int
	// mapsA > 0: A (rows m·h·w × mapsA columns) lies in a as NCHW maps of
	// hwA positions each: element (n·hwA + p, f) at a[(n·mapsA + f)·hwA +
	// p] (a convolution's backward δ read without its permute).
	mapsA, hwA int

	// split > 0: a weight gradient that sums over the images in two
	// halves, k before split into C and the rest into sum, then added
	// (imagesplit.go); pieces is the column pieces of each half.
	split, pieces int
	sum           []T

	chunks int       // pieces handed to the pool; ≤ 1 runs on the caller alone
	rows   bool      // split by rows of C (else by columns)
	wrows  bool      // split by rows of C in colSpan's pieces (a weight update)
	job    func(int) // g.chunk, bound once
}

// parallelFlops is the work below which splitting a product across cores
// costs more in hand-off than it saves. Measured here: the book's products
// (0.5 MFLOP at batch 10) run as fast on one core as on two, and slower on
// two when another process holds a core, since the waiting worker spins.
const parallelFlops = 1 << 20

// chunksPerWorker: more chunks than workers, so a worker the OS has
// descheduled holds up at most a small share.
const chunksPerWorker = 3

// plan decides how to split the product over p's workers: by rows of C
// when C is tall, by columns when it is wide. A dot-form product with
// enough rows for every chunk is split by rows even when wide: each core
// then keeps its few rows of A in cache and streams B once, where a split
// by columns has every core stream all of A once per dotCols rows of B
// (measured here on [784,1000,10] at batch 100: the forward product runs
// about 20% faster on two cores).
func (g *gemm[T]) plan(p *pool) {
	g.chunks = 1
	g.planSplit()
	if p == nil || 2*g.m*g.n*g.k < parallelFlops {
		return
	}
	g.job = g.chunk
	if g.split > 0 {
		g.pieces = max(1, min(g.n/colUnit, p.size()/2))
		g.chunks = 2 * g.pieces
		return
	}
	chunks := chunksPerWorker * p.size()
	// A product too narrow to give every worker a column block (a conv's
	// weight gradient, 25 filter taps wide) is split by rows instead.
	narrow := g.n/colUnit < p.size() && g.m >= dotRows*p.size()
	// A weight gradient read from NCHW maps that is not summed in two
	// halves (one image; see imagesplit.go) gathers its coefficients
	// element by element for each chunk of columns: one chunk a worker,
	// each gathering them once.
	gathered := g.transA && g.mapsA > 0 && !narrow
	// A weight gradient fused with its update, δᵀ·a into W, at a batch so
	// small that the forward product a·Wᵀ is split by its columns, W's
	// rows: split by W's rows in the same pieces, so that each core
	// updates the rows it read, and W stays in its cache. (Split by W's
	// columns, both halves of W crossed between the cores every step:
	// [784,300,10] at batch 10 ran 1.8× slower on two cores than here.)
	g.wrows = !g.dot() && !g.transB && g.transA && g.mapsA == 0 && g.k < dotRows*chunks && g.m >= colUnit*p.size()
	g.rows = !gathered && !g.wrows && (g.m >= g.n || (g.dot() && g.m >= dotRows*chunks) || narrow)
	switch {
	case gathered:
		g.chunks = min((g.n+7)/8, p.size())
	case g.wrows:
		g.chunks = min((g.m+7)/8, chunks)
	case g.rows:
		g.chunks = min(g.m, chunks)
	default:
		g.chunks = min((g.n+7)/8, chunks)
	}
	g.job = g.chunk
}

// run computes the product; plan must have been called with the same pool.
func (g *gemm[T]) run(p *pool) {
	switch {
	case g.split > 0 && (g.chunks <= 1 || p == nil):
		g.half(0, 0, g.n)
		g.half(1, 0, g.n)
		g.addSum()
	case g.chunks <= 1 || p == nil:
		g.block(0, g.m, 0, g.n)
	default:
		p.run(g.chunks, g.job)
		if g.split > 0 {
			g.addSum()
		}
	}
}

func (g *gemm[T]) chunk(i int) {
	switch {
	case g.split > 0:
		lo, hi := colSpan[T](g.n, g.pieces, i%g.pieces)
		g.half(i/g.pieces, lo, hi)
	case g.rows:
		lo, hi := split(g.m, g.chunks, i, dotRows) // whole groups of the kernels' four rows
		g.block(lo, hi, 0, g.n)
	case g.wrows:
		lo, hi := colSpan[T](g.m, g.chunks, i) // the forward product's pieces of W's rows
		g.block(lo, hi, 0, g.n)
	default:
		lo, hi := colSpan[T](g.n, g.chunks, i)
		g.block(0, g.m, lo, hi)
	}
}

// colSpan is piece i of chunks of a split by columns of n: whole units of
// colUnit, except that a last block narrower than a vector (a conv's 25
// filter taps split 24 + 1) joins the one before it: alone it would take
// the kernels' short-row path, slower and rounded otherwise than the same
// columns computed on one core.
func colSpan[T Float](n, chunks, i int) (lo, hi int) {
	lo, hi = split(n, chunks, i, colUnit)
	if tail := n % colUnit; n > colUnit && tail < lanes[T]() {
		cut := n - tail
		lo, hi = min(lo, cut), min(hi, cut)
		if hi == cut && lo < cut {
			hi = n
		}
	}
	return lo, hi
}

// colUnit is the width, in columns of C, a split by columns hands out.
const colUnit = dotCols * 8

// split gives worker i of w its share [lo,hi) of n, in multiples of unit.
func split(n, w, i, unit int) (lo, hi int) {
	units := (n + unit - 1) / unit
	lo = min(n, units*i/w*unit)
	hi = min(n, units*(i+1)/w*unit)
	return lo, hi
}

// tileBytes bounds the rows of A that dotForm passes every row of B over:
// half of the smallest per-core L2 cache among the machines measured here,
// so that the passes read A from cache rather than from memory. (Tiling
// the other form by columns of B measured slower: each tile gathers its
// coefficients again.)
const tileBytes = 256 << 10

// block computes rows [r0,r1) × columns [c0,c1) of C. Tiling changes only
// the order in which elements of C are computed, never the operations that
// compute one, so the result is the same bit for bit.
func (g *gemm[T]) block(r0, r1, c0, c1 int) {
	if r0 >= r1 || c0 >= c1 {
		return
	}
	switch {
	case g.dot():
		rowBytes := g.k * int(unsafe.Sizeof(T(0)))
		rows := max(dotRows, tileBytes/rowBytes/dotRows*dotRows)
		for i := r0; i < r1; i += rows {
			g.dotForm(i, min(i+rows, r1), c0, c1)
		}
	case !g.transB:
		g.axpyForm(r0, r1, c0, c1)
	default:
		g.naive(r0, r1, c0, c1)
	}
}

// dot reports whether both operands' rows run along k (A·Bᵀ), the form
// dotForm computes.
func (g *gemm[T]) dot() bool { return !g.transA && g.transB }

// dotTenRows × dotTenCols is the block of C the AVX-512 kernel dot10x4W
// computes in one pass: a batch of ten by four columns.
const (
	dotTenRows = 10
	dotTenCols = 4
)

// dotTenBytes bounds the ten rows of A a dot10x4W pass reads again for
// every four columns: past 64 KB (k of 1,638 in float32) they fall out of
// L1 and the four-row blocks measured faster (k of 2048: 92 against 110
// GFLOP/s; k of 1024, 150 against 121 the other way).
const dotTenBytes = 64 << 10

// dotForm: C[i,j] = α·A[i,:]·B[j,:] + β·C[i,j], both operands' rows
// contiguous in k (the forward pass a·wᵀ). With the AVX-512 kernel and
// rows of A short enough (dotTenBytes), it computes ten rows by four
// columns at a time (dotTens). Elsewhere, dotRows rows by two blocks of
// dotCols columns at a time (dotPair), then one block for the last columns
// (dotBlocks).
// Every element is the same dot product either way, bit for bit.
func (g *gemm[T]) dotForm(r0, r1, c0, c1 int) {
	if !hasDotTen() || r1-r0 < dotTenRows || c1-c0 < dotTenCols || g.k < 1 || dotTenRows*g.k*int(unsafe.Sizeof(T(0))) > dotTenBytes {
		g.dotBlocks(r0, r1, c0, c1)
		return
	}
	// Tiles of B's rows that fit in L2, each passed over by every block of
	// ten rows of A, which stays in L1.
	cols := max(dotTenCols, tileBytes/(g.k*int(unsafe.Sizeof(T(0)))))
	for t0 := c0; t0 < c1; {
		t1 := min(t0+cols, c1)
		if c1-t1 < dotTenCols {
			t1 = c1
		}
		g.dotTens(r0, r1, t0, t1)
		t0 = t1
	}
}

// dotTens is dotForm with dot10x4W, at least ten rows by four columns: the
// last blocks of rows and of columns overlap the ones before them, and
// store only what those left. A block whose sums C keeps as they are (α 1,
// β 0) and that overlaps none goes straight into C.
func (g *gemm[T]) dotTens(r0, r1, c0, c1 int) {
	var out [dotTenRows * dotTenCols]T
	plain := g.alpha == 1 && g.beta == 0
	for i, idone := r0, r0; idone < r1; i = min(i+dotTenRows, r1-dotTenRows) {
		for j, jdone := c0, c0; jdone < c1; j = min(j+dotTenCols, c1-dotTenCols) {
			if plain && i == idone && j == jdone {
				dotTenVec(g.c[i*g.ldc+j:], g.ldc, g.a, i, g.lda, g.b, j, g.ldb, g.k)
			} else {
				dotTenVec(out[:], dotTenCols, g.a, i, g.lda, g.b, j, g.ldb, g.k)
				g.store(out[:], dotTenCols, i, idone-i, dotTenRows, j, jdone-j, dotTenCols)
			}
			jdone = j + dotTenCols
		}
		idone = i + dotTenRows
	}
}

// store stores rows [r0, r1) and columns [c0, c1) of a block of sums out
// (row r, column c at out[stride·r+c]) in C from row i, column j on, as
// α·out + β·C.
func (g *gemm[T]) store(out []T, stride, i, r0, r1, j, c0, c1 int) {
	if g.alpha == 1 && g.beta == 0 { // 1·x is x, bit for bit: the sums as they are
		n := c1 - c0
		for r := r0; r < r1; r++ {
			crow, o := g.c[(i+r)*g.ldc+j+c0:][:n], out[stride*r+c0:][:n]
			for c := range crow { // a few elements: a loop, not a call to memmove
				crow[c] = o[c]
			}
		}
		return
	}
	for r := r0; r < r1; r++ {
		o := out[stride*r:]
		crow := g.c[(i+r)*g.ldc+j:]
		for c := c0; c < c1; c++ {
			if g.beta == 0 {
				crow[c] = T(g.alpha * o[c])
			} else {
				crow[c] = T(g.alpha*o[c]) + T(g.beta*crow[c])
			}
		}
	}
}

// dotBlocks is dotForm with the four-row kernels.
func (g *gemm[T]) dotBlocks(r0, r1, c0, c1 int) {
	const size = dotRows * dotCols
	var out [2 * size]T
	for j := c0; j < c1; {
		width := min(dotCols, c1-j)
		if c1-j >= 2*dotCols {
			width = 2 * dotCols
		}
		for i := r0; i < r1; i += dotRows {
			nr := min(dotRows, r1-i)
			if width == 2*dotCols {
				dotPair(&out, g.a, i, nr, g.lda, g.b, j, g.ldb, g.k)
				g.storeBlock(out[size:], i, nr, j+dotCols, dotCols)
			} else {
				dotBlock((*[size]T)(out[:size]), g.a, i, nr, g.lda, g.b, j, width, g.ldb, g.k)
			}
			g.storeBlock(out[:size], i, nr, j, min(dotCols, width))
		}
		j += width
	}
}

// storeBlock stores one dotRows×dotCols block of sums, out (row r, column
// c at out[dotCols·r+c]), as α·out + β·C in C's nr rows from i and nc
// columns from j.
func (g *gemm[T]) storeBlock(out []T, i, nr, j, nc int) {
	if nr == dotRows && nc == dotCols && g.beta == 0 { // a whole block, stored row by row
		for r := range dotRows {
			crow := g.c[(i+r)*g.ldc+j:][:dotCols]
			o := out[dotCols*r:][:dotCols]
			crow[0], crow[1], crow[2] = T(g.alpha*o[0]), T(g.alpha*o[1]), T(g.alpha*o[2])
		}
		return
	}
	g.store(out, dotCols, i, 0, nr, j, 0, nc)
}

// axpyForm: C[i,c0:c1] = β·C[i,c0:c1] + Σₜ α·op(A)[i,t]·B[t,c0:c1], rows of B
// contiguous in n (the weight gradient δᵀ·a fused with its update, and δ·w).
func (g *gemm[T]) axpyForm(r0, r1, c0, c1 int) {
	if c1-c0 >= lanes[T]() {
		g.axpyBlocks(r0, r1, c0, c1)
		return
	}
	var stack [axpyMaxK]T
	coef := stack[:0]
	if g.k <= len(stack) {
		coef = stack[:g.k]
	} else {
		coef = make([]T, g.k)
	}
	for i := r0; i < r1; i++ {
		for t := 0; t < g.k; t++ {
			coef[t] = g.alpha * g.opA(i, t)
		}
		crow := g.c[i*g.ldc+c0 : i*g.ldc+c1]
		g.scaleC(crow)
		axpysGo(crow, g.beta != 0, coef, g.b[c0:], g.ldb)
	}
}

// axpyMaxK bounds the coefficients kept on the stack: k is the batch size
// (weight gradients) or a layer width (backpropagated δ). A longer k is
// taken axpyMaxK at a time.
const axpyMaxK = 256

// axpyBlocks is axpyForm four rows of C at a time (the vector kernels or
// their Go twins): each load of B then feeds four rows. A long k (a conv's
// weight gradient sums over every position of every image: 57,600 rows of
// B at batch 100) is taken axpyMaxK rows of B at a time for all rows of C,
// so those rows are read from cache by every block of four, not from
// memory; each element of C still takes its terms in the same order, its
// sum carried from one pass to the next in C, so the result is the same
// bit for bit.
func (g *gemm[T]) axpyBlocks(r0, r1, c0, c1 int) { g.axpyTerms(r0, r1, c0, c1, 0, g.k) }

// axpySmallK is the k up to which axpyTerms keeps its coefficients in a
// small array: Go clears an array where it is declared, and clearing
// axpyMaxK's 4 KB took 14% of a book step's 10×30 products (k of 10).
const axpySmallK = 16

// axpyTerms is axpyBlocks over the terms t in [tLo,tHi) alone, β taken
// on the first.
func (g *gemm[T]) axpyTerms(r0, r1, c0, c1, tLo, tHi int) {
	if tHi-tLo <= axpySmallK {
		var coef [4 * axpySmallK]T
		g.axpyTermsWith(coef[:], r0, r1, c0, c1, tLo, tHi)
		return
	}
	var coef [4 * axpyMaxK]T
	g.axpyTermsWith(coef[:], r0, r1, c0, c1, tLo, tHi)
}

// axpyTermsWith is axpyTerms with room for its coefficients, 4·min(k,
// axpyMaxK) of them.
func (g *gemm[T]) axpyTermsWith(coef []T, r0, r1, c0, c1, tLo, tHi int) {
	for t0 := tLo; t0 < tHi; t0 += axpyMaxK {
		kk := min(axpyMaxK, tHi-t0)
		for i := r0; i < r1; i += 4 {
			nr := min(4, r1-i)
			// A β other than 0 or 1 (the L2 weight decay) scales C in the
			// kernel's first pass, as it loads C: no pass of its own.
			var beta *T
			if t0 == tLo && g.beta != 0 && g.beta != 1 {
				beta = &g.beta
			}
			g.gather(coef[:4*kk], i, nr, t0)
			add := g.beta != 0 || t0 > tLo
			axpyRows(g.c[i*g.ldc+c0:], nr, g.ldc, c1-c0, add, beta, coef[:4*kk], kk, g.b[t0*g.ldb+c0:], g.ldb)
		}
	}
}

// gather fills coef with α·op(A)[i+r, t0+t] at 4t+r, for the len(coef)/4
// values of t and r < 4, rows past nr repeating the last one: the
// coefficients of axpyRows.
func (g *gemm[T]) gather(coef []T, i, nr, t0 int) {
	kk := len(coef) / 4
	coef = coef[:4*kk]
	α := g.alpha
	// Each of the four rows' offsets into a is fixed before the loop over
	// t, which then reads four values a step: looked up element by element
	// (opA's branches, a min and a multiply each), the gathers took 7% of a
	// chapter 6 step.
	var off [4]int
	for r := range off {
		off[r] = i + min(r, nr-1)
	}
	switch {
	case g.mapsA == 0 && !g.transA: // rows of A: four runs along t
		a0, a1, a2, a3 := g.a[off[0]*g.lda+t0:][:kk], g.a[off[1]*g.lda+t0:][:kk], g.a[off[2]*g.lda+t0:][:kk], g.a[off[3]*g.lda+t0:][:kk]
		for t := range kk {
			q := coef[4*t : 4*t+4 : 4*t+4]
			q[0], q[1], q[2], q[3] = α*a0[t], α*a1[t], α*a2[t], α*a3[t]
		}
	case g.mapsA == 0: // Aᵀ: row t of a holds the four values
		for t := range kk {
			row := g.a[(t0+t)*g.lda:]
			q := coef[4*t : 4*t+4 : 4*t+4]
			q[0], q[1], q[2], q[3] = α*row[off[0]], α*row[off[1]], α*row[off[2]], α*row[off[3]]
		}
	case !g.transA: // row i+r is a position, t a map: one map's plane apart
		hw, maps := g.hwA, g.mapsA
		for r, row := range off {
			at := (row/hw*maps+t0)*hw + row%hw
			for t := range kk {
				coef[4*t+r] = α * g.a[at+t*hw]
			}
		}
	default: // row i+r is a map, t a position: positions run along a plane, and from one image's planes to the next's
		hw, maps := g.hwA, g.mapsA
		n, p := t0/hw, t0%hw
		for t := 0; t < kk; {
			run := min(hw-p, kk-t) // positions left in this image's planes
			base := n*maps*hw + p
			a0, a1, a2, a3 := g.a[base+off[0]*hw:][:run], g.a[base+off[1]*hw:][:run], g.a[base+off[2]*hw:][:run], g.a[base+off[3]*hw:][:run]
			for x := range run {
				q := coef[4*(t+x) : 4*(t+x)+4 : 4*(t+x)+4]
				q[0], q[1], q[2], q[3] = α*a0[x], α*a1[x], α*a2[x], α*a3[x]
			}
			t += run
			n, p = n+1, 0
		}
	}
}

// opA is op(A)[i,t].
func (g *gemm[T]) opA(i, t int) T {
	if g.mapsA > 0 {
		row, col := i, t
		if g.transA {
			row, col = t, i
		}
		return g.a[(row/g.hwA*g.mapsA+col)*g.hwA+row%g.hwA]
	}
	if g.transA {
		return g.a[t*g.lda+i]
	}
	return g.a[i*g.lda+t]
}

// scaleC applies a β other than 0 or 1 before the products are added.
func (g *gemm[T]) scaleC(crow []T) {
	if g.beta != 0 && g.beta != 1 {
		for x := range crow {
			crow[x] *= g.beta
		}
	}
}

// naive handles Aᵀ·Bᵀ, which no compiled program uses today.
func (g *gemm[T]) naive(r0, r1, c0, c1 int) {
	for i := r0; i < r1; i++ {
		for j := c0; j < c1; j++ {
			var s T
			for t := 0; t < g.k; t++ {
				var av, bv T
				if g.transA {
					av = g.a[t*g.lda+i]
				} else {
					av = g.a[i*g.lda+t]
				}
				if g.transB {
					bv = g.b[j*g.ldb+t]
				} else {
					bv = g.b[t*g.ldb+j]
				}
				s += T(av * bv)
			}
			ci := i*g.ldc + j
			if g.beta == 0 {
				g.c[ci] = g.alpha * s
			} else {
				g.c[ci] = T(g.alpha*s) + T(g.beta*g.c[ci])
			}
		}
	}
}
