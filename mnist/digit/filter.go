package digit

// Image filters on w×h grey levels, row by row: padding, bilinear
// enlargement, box blur and the rank (max and min) filters that clean's
// background estimate is made of.

// pad surrounds the w×h image g with r pixels on every side, each a copy
// of the nearest edge pixel.
func pad(g []float32, w, h, r int) []float32 {
	pw := w + 2*r
	out := make([]float32, pw*(h+2*r))
	for y := range h + 2*r {
		sy := min(max(y-r, 0), h-1)
		for x := range pw {
			out[y*pw+x] = g[sy*w+min(max(x-r, 0), w-1)]
		}
	}
	return out
}

// enlarge interpolates the cw×ch image c bilinearly to w×h, holding the
// edge pixels' values beyond their centres (resample would fade them
// towards 0 there, which for a background is a false edge).
func enlarge(c []float32, cw, ch, w, h int) []float32 {
	at := func(n, size int, i int) (int, int, float32) {
		p := (float64(i)+0.5)*float64(n)/float64(size) - 0.5
		p = min(max(p, 0), float64(n-1))
		k := min(int(p), n-1)
		return k, min(k+1, n-1), float32(p - float64(k))
	}
	out := make([]float32, w*h)
	for y := range h {
		y0, y1, fy := at(ch, h, y)
		for x := range w {
			x0, x1, fx := at(cw, w, x)
			top := c[y0*cw+x0]*(1-fx) + c[y0*cw+x1]*fx
			bot := c[y1*cw+x0]*(1-fx) + c[y1*cw+x1]*fx
			out[y*w+x] = top*(1-fy) + bot*fy
		}
	}
	return out
}

// boxBlur averages each pixel with the (2r+1)² around it, as far as the
// image reaches.
func boxBlur(g []float32, w, h, r int) []float32 {
	return separable(g, w, h, r, func(line []float32, out []float32) {
		var sum float64
		n := len(line)
		for i := 0; i <= r && i < n; i++ {
			sum += float64(line[i])
		}
		for i := range n {
			lo, hi := max(0, i-r), min(n-1, i+r)
			out[i] = float32(sum / float64(hi-lo+1))
			if i+r+1 < n {
				sum += float64(line[i+r+1])
			}
			if i-r >= 0 {
				sum -= float64(line[i-r])
			}
		}
	})
}

// maxFilter is the largest value within a (2r+1)² square; minFilter the
// smallest.
func maxFilter(g []float32, w, h, r int) []float32 {
	return rank(g, w, h, r, func(a, b float32) float32 { return max(a, b) })
}

func minFilter(g []float32, w, h, r int) []float32 {
	return rank(g, w, h, r, func(a, b float32) float32 { return min(a, b) })
}

func rank(g []float32, w, h, r int, pick func(a, b float32) float32) []float32 {
	return separable(g, w, h, r, func(line []float32, out []float32) {
		n := len(line)
		for i := range n {
			v := line[i]
			for k := max(0, i-r); k <= min(n-1, i+r); k++ {
				v = pick(v, line[k])
			}
			out[i] = v
		}
	})
}

// separable applies a one-dimensional filter along the rows of g, then
// along the columns of the result.
func separable(g []float32, w, h, r int, filter func(line, out []float32)) []float32 {
	tmp := make([]float32, w*h)
	for y := range h {
		filter(g[y*w:(y+1)*w], tmp[y*w:(y+1)*w])
	}
	out := make([]float32, w*h)
	col, res := make([]float32, h), make([]float32, h)
	for x := range w {
		for y := range h {
			col[y] = tmp[y*w+x]
		}
		filter(col, res)
		for y := range h {
			out[y*w+x] = res[y]
		}
	}
	return out
}
