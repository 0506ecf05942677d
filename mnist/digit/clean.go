package digit

import (
	"math"
	"slices"
)

// Photos and scans: the steps that turn an uneven page into ink on black
// before the crop, as document-imaging tools do (flat-field correction,
// Otsu's threshold, connected components).

// workSide is the longest side a photo is reduced to before its background
// is estimated: the digit ends up 20 pixels tall, and a quarter of 400 is
// still five times that.
const workSide = 400

// coarseSide is the resolution of the background estimate: light and
// shadows change slowly, and at this size the morphology costs nothing.
const coarseSide = 100

// flatBorder reports whether the page around the digit is one even level:
// all but a tenth of the border pixels within two grey levels of their
// median. Drawings, MNIST's own digits and clean scans are; a photo's grain,
// shading or shadow is not, and takes the long way (clean).
func flatBorder(g []float32, w, h int, bg float32) bool {
	const tol = 2.5 / 255
	n, off := 0, 0
	count := func(v float32) {
		n++
		if v < bg-tol || v > bg+tol {
			off++
		}
	}
	for x := range w {
		count(g[x])
		if h > 1 {
			count(g[(h-1)*w+x])
		}
	}
	for y := 1; y < h-1; y++ {
		count(g[y*w])
		if w > 1 {
			count(g[y*w+w-1])
		}
	}
	return off*10 <= n
}

// clean turns the grey levels g of a photographed or scanned page into
// ink levels, 0 background to 1 ink, and the box of the ink that makes the
// digit. It may reduce the image first: it returns the ink levels' size.
//
//  1. Large photos are reduced to workSide pixels on their longer side,
//     averaging, which also averages away most sensor noise.
//  2. Polarity: the ink is the side the local contrast leans to (dark
//     strokes on light paper make the deviations from the local mean skew
//     dark), which neither shading nor a shadow across the border fools.
//  3. The paper's own level everywhere, lit or shaded, is estimated by a
//     morphological closing (opening, for light ink) wide enough to erase
//     any stroke, at low resolution, the page padded past its edges.
//  4. Ink strength is the drop from the paper's level, as a fraction of it
//     for dark ink (light falls on paper and ink alike, so a shadow halves
//     both), as a difference for light ink.
//  5. Otsu's threshold splits ink from paper, above the paper's grain;
//     connected components smaller than a tenth of the largest are specks,
//     and everything farther than two pixels from the kept ones is
//     cleared. Ink must stand out from the grain by inkSNR standard
//     deviations, or the page is blank (ErrNoInk).
//  6. Levels: the threshold's lower half maps to 0 and the typical stroke
//     (the 90th percentile of the kept ink) to 1, so faint and strong
//     strokes come out alike, as MNIST's are.
func clean(g []float32, w, h int) (v []float32, nw, nh int, box [4]int, err error) {
	if side := max(w, h); side > workSide {
		f := float64(side) / workSide
		nw, nh = max(1, int(math.Round(float64(w)/f))), max(1, int(math.Round(float64(h)/f)))
		g = resample(g, w, h, 0, 0, float64(w)/float64(nw), float64(h)/float64(nh), nw, nh)
		w, h = nw, nh
	}
	g = boxBlur(g, w, h, 1)
	dark := darkInk(g, w, h)
	paper := background(g, w, h, dark)
	s := make([]float32, w*h)
	for i, v := range g {
		p := paper[i]
		if dark {
			s[i] = (p - v) / max(p, 1e-3)
		} else {
			s[i] = v - p
		}
	}
	grain := noise(s)
	var peak float32
	for i, v := range s {
		s[i] = max(v, 0)
		peak = max(peak, s[i])
	}
	if peak < MinContrast || peak < inkSNR*grain {
		return nil, 0, 0, box, ErrNoInk
	}
	// Otsu's threshold splits a page of grain alone, or grain and one faint
	// mark, as readily as ink and paper: it must clear the grain too.
	t := max(otsu(s, peak), 3*grain)
	mask := make([]bool, w*h)
	for i, v := range s {
		mask[i] = v > t
	}
	keep := components(mask, w, h)
	var core []float32
	x0, y0, x1, y1 := w, h, -1, -1
	for i, k := range keep {
		if k {
			core = append(core, s[i])
			x, y := i%w, i/w
			x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
		}
	}
	if len(core) == 0 {
		return nil, 0, 0, box, ErrNoInk
	}
	slices.Sort(core)
	hi := core[len(core)*9/10]
	lo := t / 2
	if hi-lo < MinContrast/2 || hi < inkSNR*grain {
		return nil, 0, 0, box, ErrNoInk
	}
	near := grow(keep, w, h, 2)
	for i := range s {
		if near[i] {
			s[i] = min(max((s[i]-lo)/(hi-lo), 0), 1)
		} else {
			s[i] = 0
		}
	}
	return s, w, h, [4]int{x0, y0, x1, y1}, nil
}

// inkSNR is how many times the paper's grain (its noise's standard
// deviation) ink must stand out by: sensor noise peaks at about 4 σ over a
// page of pixels, and a stroke of ink at many more.
const inkSNR = 8

// noise estimates the standard deviation of the grain of the ink strengths
// s, most of which are paper: the median absolute deviation from the
// median, scaled to σ for normally distributed noise, which the ink, a
// minority of the pixels, hardly moves.
func noise(s []float32) float32 {
	v := slices.Clone(s)
	slices.Sort(v)
	med := v[len(v)/2]
	for i, x := range v {
		v[i] = abs32(x - med)
	}
	slices.Sort(v)
	return 1.4826 * v[len(v)/2]
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// darkInk reports whether the ink is darker than the paper: whether the
// deviations from the local mean (over an eighth of the image) skew dark.
// Thin strokes deviate far on their side; shading and shadow edges deviate
// little, and evenly both ways.
func darkInk(g []float32, w, h int) bool {
	mean := boxBlur(g, w, h, max(2, max(w, h)/8))
	var skew float64
	for i, v := range g {
		d := float64(v - mean[i])
		skew += d * d * d
	}
	return skew < 0
}

// background estimates the paper's level at every pixel of g: a closing
// (dark ink: the strokes are filled with the paper around them) or an
// opening (light ink) over a third of the image, which no stroke of a
// digit is wider than, computed on a coarseSide copy, smoothed and
// enlarged back.
func background(g []float32, w, h int, dark bool) []float32 {
	f := max(1, float64(max(w, h))/coarseSide)
	cw, ch := max(1, int(math.Round(float64(w)/f))), max(1, int(math.Round(float64(h)/f)))
	// Steps that tile the image exactly, so that edge pixels average only
	// the image.
	c := resample(g, w, h, 0, 0, float64(w)/float64(cw), float64(h)/float64(ch), cw, ch)
	r := max(1, max(cw, ch)/6) // window 2r+1: a third of the image
	// The page goes on past the picture's edges: padded with its edge
	// pixels, a shadow's edge running out of the picture stays where it is
	// (cut off, the closing would let the light side spread along the edge).
	pw, ph := cw+2*r, ch+2*r
	c = pad(c, cw, ch, r)
	if dark {
		c = minFilter(maxFilter(c, pw, ph, r), pw, ph, r)
	} else {
		c = maxFilter(minFilter(c, pw, ph, r), pw, ph, r)
	}
	c = boxBlur(c, pw, ph, 1)
	inner := make([]float32, cw*ch)
	for y := range ch {
		copy(inner[y*cw:(y+1)*cw], c[(y+r)*pw+r:])
	}
	return enlarge(inner, cw, ch, w, h)
}

// otsu returns the level that splits s (values 0..peak) into two classes
// with the largest variance between them: Otsu's threshold.
func otsu(s []float32, peak float32) float32 {
	const bins = 256
	var hist [bins]float64
	for _, v := range s {
		hist[min(bins-1, int(v/peak*bins))]++
	}
	var total, sum float64
	for i, n := range hist {
		total += n
		sum += float64(i) * n
	}
	var w0, sum0, best float64
	cut := 0
	for i, n := range hist {
		w0 += n
		sum0 += float64(i) * n
		w1 := total - w0
		if w0 == 0 || w1 == 0 {
			continue
		}
		m0, m1 := sum0/w0, (sum-sum0)/w1
		if between := w0 * w1 * (m0 - m1) * (m0 - m1); between > best {
			best, cut = between, i
		}
	}
	return (float32(cut) + 1) / bins * peak
}

// components returns the pixels of mask that belong to the digit: the
// 8-connected components at least a tenth the size of the largest. Smaller
// ones are specks of dirt or noise.
func components(mask []bool, w, h int) []bool {
	label := make([]int32, w*h)
	var sizes []int
	var stack []int
	for i, m := range mask {
		if !m || label[i] != 0 {
			continue
		}
		sizes = append(sizes, 0)
		id := int32(len(sizes))
		label[i] = id
		stack = append(stack[:0], i)
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			sizes[id-1]++
			px, py := p%w, p/w
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					x, y := px+dx, py+dy
					if x < 0 || y < 0 || x >= w || y >= h {
						continue
					}
					if q := y*w + x; mask[q] && label[q] == 0 {
						label[q] = id
						stack = append(stack, q)
					}
				}
			}
		}
	}
	keep := make([]bool, w*h)
	if len(sizes) == 0 {
		return keep
	}
	largest := slices.Max(sizes)
	for i, l := range label {
		keep[i] = l != 0 && sizes[l-1]*10 >= largest
	}
	return keep
}

// grow returns mask widened by r pixels in every direction (a square).
func grow(mask []bool, w, h, r int) []bool {
	f := make([]float32, w*h)
	for i, m := range mask {
		if m {
			f[i] = 1
		}
	}
	f = maxFilter(f, w, h, r)
	out := make([]bool, w*h)
	for i, v := range f {
		out[i] = v > 0
	}
	return out
}

// Stroke widths, in output pixels, measured as 2·(ink)/(edge): a stroke of
// width s and length L holds s·L of ink and has 2·L of edge, whatever its
// shape. MNIST's test digits measure 2.4 at the median and 1.09 at the
// thinnest (0.94 enlarged four times, where the edge is sharper); a digit
// under thinStroke was written with a thin pen, and its strokes are
// widened to penWidth, MNIST's median.
const (
	thinStroke = 0.9
	penWidth   = 2.4
)

// strokeWidth measures the strokes of the ink levels g inside box, in
// g's pixels.
func strokeWidth(g []float32, w, h int, box [4]int) float64 {
	var ink, edge float64
	for y := max(0, box[1]-1); y <= min(h-1, box[3]+1); y++ {
		for x := max(0, box[0]-1); x <= min(w-1, box[2]+1); x++ {
			v := g[y*w+x]
			ink += float64(v)
			var dx, dy float32
			if x+1 < w {
				dx = g[y*w+x+1] - v
			}
			if y+1 < h {
				dy = g[(y+1)*w+x] - v
			}
			edge += math.Hypot(float64(dx), float64(dy))
		}
	}
	if edge == 0 {
		return 0
	}
	return 2 * ink / edge
}

// thicken widens the strokes of a digit written with a thin pen, which
// scaled down to 20 pixels would fade to faint hairlines, to penWidth
// output pixels: a grey-level dilation by a disk, at four pixels to an
// output pixel (reducing the image first when it is larger). Other digits
// come back as they are.
func thicken(g []float32, w, h int, box [4]int) ([]float32, int, int, [4]int) {
	const k = 4 // working pixels per output pixel
	step := float64(max(box[2]-box[0], box[3]-box[1])+1) / Box
	width := strokeWidth(g, w, h, box) / step
	if width >= thinStroke || width == 0 {
		return g, w, h, box
	}
	if f := step / k; f > 1 {
		nw, nh := max(1, int(math.Round(float64(w)/f))), max(1, int(math.Round(float64(h)/f)))
		sx, sy := float64(w)/float64(nw), float64(h)/float64(nh)
		g = resample(g, w, h, 0, 0, sx, sy, nw, nh)
		box = [4]int{int(float64(box[0]) / sx), int(float64(box[1]) / sy),
			min(nw-1, int(float64(box[2])/sx)), min(nh-1, int(float64(box[3])/sy))}
		w, h, step = nw, nh, step/sx
	}
	// The stroke's peak may have been shared out over two working pixels;
	// the dilation takes the strongest, so restretch to the strongest ink.
	r := (penWidth - width) * step / 2
	g = dilate(g, w, h, r)
	var peak float32
	for _, v := range g {
		peak = max(peak, v)
	}
	x0, y0, x1, y1 := w, h, -1, -1
	for i, v := range g {
		v /= peak
		g[i] = v
		if v > InkThreshold {
			x, y := i%w, i/w
			x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
		}
	}
	return g, w, h, [4]int{x0, y0, x1, y1}
}

// dilate is the largest value within distance r of each pixel, the disk's
// rim weighted by how much of a pixel it covers so that the widened stroke
// keeps a soft edge.
func dilate(g []float32, w, h int, r float64) []float32 {
	type tap struct {
		dx, dy int
		w      float32
	}
	var taps []tap
	n := int(math.Ceil(r))
	for dy := -n; dy <= n; dy++ {
		for dx := -n; dx <= n; dx++ {
			if c := r + 0.5 - math.Hypot(float64(dx), float64(dy)); c > 0 {
				taps = append(taps, tap{dx, dy, float32(min(c, 1))})
			}
		}
	}
	out := make([]float32, w*h)
	for y := range h {
		for x := range w {
			var m float32
			for _, t := range taps {
				if sx, sy := x+t.dx, y+t.dy; sx >= 0 && sy >= 0 && sx < w && sy < h {
					m = max(m, t.w*g[sy*w+sx])
				}
			}
			out[y*w+x] = m
		}
	}
	return out
}
