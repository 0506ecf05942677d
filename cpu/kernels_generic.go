package cpu

// dotRows × dotCols is the block of C one call of dotBlock computes: each
// chunk of an A row is loaded once for dotCols products, each chunk of a B
// row once for dotRows.
const (
	dotRows = 4
	dotCols = 3
)

// dotBlockGo: out[3r+c] = a[(i+r)·lda:]·b[(j+c)·ldb:] over k.
func dotBlockGo[T Float](out *[dotRows * dotCols]T, a []T, i, nr, lda int, b []T, j, nc, ldb, k int) {
	var col [dotRows]T
	for c := 0; c < nc; c++ {
		dotsGo(col[:nr], a[i*lda:], lda, b[(j+c)*ldb:(j+c)*ldb+k])
		for r := 0; r < nr; r++ {
			out[3*r+c] = col[r]
		}
	}
}

// dotsGo: out[r] = a[r*lda : r*lda+len(b)] · b.
func dotsGo[T Float](out []T, a []T, lda int, b []T) {
	k := len(b)
	for r := range out {
		row := a[r*lda : r*lda+k]
		var s0, s1, s2, s3 T
		i := 0
		for ; i+4 <= k; i += 4 {
			s0 += row[i] * b[i]
			s1 += row[i+1] * b[i+1]
			s2 += row[i+2] * b[i+2]
			s3 += row[i+3] * b[i+3]
		}
		for ; i < k; i++ {
			s0 += row[i] * b[i]
		}
		out[r] = (s0 + s1) + (s2 + s3)
	}
}

// axpysGo: c = [c if add] + Σₜ coef[t]·b[t*ldb : t*ldb+len(c)].
func axpysGo[T Float](c []T, add bool, coef []T, b []T, ldb int) {
	if !add {
		clear(c)
	}
	n := len(c)
	for t, a := range coef {
		row := b[t*ldb : t*ldb+n]
		for x := range c {
			c[x] += a * row[x]
		}
	}
}

// pixelsGo: dst[i] = src[i]/255 through a table.
func pixelsGo[T Float](dst []T, src []uint8, lut *[256]T) {
	dst = dst[:len(src)]
	for i, p := range src {
		dst[i] = lut[p]
	}
}
