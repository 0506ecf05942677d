// Package digit turns a picture of one handwritten digit (a scan, a photo, a
// drawing) into a 28×28 image prepared the way MNIST's images were, so that
// a network trained on MNIST can read it.
//
// MNIST's digits were size-normalised to fit a 20×20 box, keeping their
// aspect ratio, with anti-aliasing, then placed in a 28×28 field so that
// their centre of mass lies at its centre; ink is light (255) on a dark (0)
// background. Preprocess repeats those steps on any image:
//
//  1. grey levels: luminance, transparent pixels composited over white (or
//     over black, when white leaves no ink: light strokes on transparency);
//  2. page: when the border is one even level (a drawing, a clean scan,
//     MNIST's own digits) that level is the background. Otherwise the
//     image is a photo or a scan of uneven paper, and the background is
//     estimated and removed the way document-imaging tools do it: the
//     paper's level under shading and shadows by a wide morphological
//     closing, ink as the fraction of light it takes away, Otsu's
//     threshold between ink and paper, specks dropped by connected
//     components, and stroke contrast evened out (see clean);
//  3. polarity and levels: on an even page, the background level is the
//     median of the border pixels, and when the darkest pixel lies farther
//     from it than the lightest the ink is dark on light and the image is
//     inverted; the background maps to 0 and the strongest ink to 1;
//  4. crop: the bounding box of the pixels above InkThreshold (of the
//     kept components, on a photo), plus a margin of one output pixel so
//     that the anti-aliased fringe survives; strokes that would come out
//     thinner than a pixel (a fine pen on a large image) are first widened
//     to MNIST's typical width (see thicken);
//  5. scale: the box's longer side becomes 20 pixels, averaging the area
//     each output pixel covers (exact anti-aliasing) when shrinking,
//     bilinear interpolation when enlarging;
//  6. centre: the digit is shifted by whole pixels so that its centre of
//     mass lands on pixel (14, 14), counting pixel centres from 0, as far
//     as the digit's box stays inside the field.
//
// Why (14, 14) and not the geometric centre 13.5: over MNIST's 10,000 test
// images the centre of mass, measured the same way, lies between 13.5 and
// 14.5 on both axes and averages (14.01, 13.99), which is what a whole-pixel
// shift towards 14 produces. Shifting by whole pixels, as MNIST did, leaves
// the pixels themselves untouched: an MNIST digit comes back from Preprocess
// as it was, to within one grey level (from stretching a strongest ink of
// 254 to 255), for all but 12 of the 10,000 test digits.
package digit

import (
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
)

// Geometry of the output, the same as MNIST's.
const (
	Rows   = 28
	Cols   = 28
	Pixels = Rows * Cols
	// Box is the side of the square the digit is scaled to fit.
	Box = 20
	// Center is the pixel the centre of mass is moved to, on both axes.
	Center = 14
)

// InkThreshold is the level, as a fraction of the range from background to
// the strongest ink, above which a pixel counts as ink when finding the
// digit's bounding box. Fainter pixels (paper texture, JPEG noise, the
// anti-aliased fringe) do not widen the box.
const InkThreshold = 0.1

// MinContrast is the smallest difference, as a fraction of full scale,
// between the background and the strongest ink for an image to hold a
// digit at all: below it the "ink" is noise, and stretching it to full
// range would make a digit out of nothing.
const MinContrast = 0.125

// ErrNoInk is the error of an image with no digit in it: blank, or too
// faint to tell ink from background.
var ErrNoInk = errors.New("no ink: the image is blank or too faint")

// Preprocess returns the 784 pixels (row-major, 0 background to 255 ink)
// of img prepared as MNIST's images were; see the package documentation.
// It fails with ErrNoInk for an image without a digit.
func Preprocess(img image.Image) ([]uint8, error) {
	b := img.Bounds()
	if b.Empty() {
		return nil, fmt.Errorf("empty image (%d×%d): %w", b.Dx(), b.Dy(), ErrNoInk)
	}
	g := grey(img, 1)
	out, err := prepare(g, b.Dx(), b.Dy())
	if errors.Is(err, ErrNoInk) && translucent(img) {
		// Light strokes on a transparent canvas vanish over white; over
		// black they show.
		g = grey(img, 0)
		out, err = prepare(g, b.Dx(), b.Dy())
	}
	return out, err
}

// Image returns pixels, 784 values as Preprocess or mnist.Set.Image return
// them, as a 28×28 grey image (255 white ink on black). It panics if
// len(pixels) is not 784, which is a programming error.
func Image(pixels []uint8) *image.Gray {
	if len(pixels) != Pixels {
		panic(fmt.Sprintf("digit.Image: %d pixels, want %d", len(pixels), Pixels))
	}
	img := image.NewGray(image.Rect(0, 0, Cols, Rows))
	copy(img.Pix, pixels)
	return img
}

// prepare runs steps 2 to 6 on the w×h grey levels g (0 black, 1 white),
// which it may overwrite.
func prepare(g []float32, w, h int) ([]uint8, error) {
	var v []float32
	var box [4]int
	var err error
	if bg := borderMedian(g, w, h); flatBorder(g, w, h, bg) {
		v, box, err = levels(g, w, h, bg)
	} else {
		v, w, h, box, err = clean(g, w, h)
	}
	if err != nil {
		return nil, err
	}
	v, w, h, box = thicken(v, w, h, box)
	return fit(v, w, h, box)
}

// levels runs steps 2 and 3 on an even background of level bg: polarity,
// then 0 for the background and 1 for the strongest ink. It returns the
// ink levels and the box of the pixels above InkThreshold.
func levels(g []float32, w, h int, bg float32) ([]float32, [4]int, error) {
	lo, hi := float32(1), float32(0)
	for _, v := range g {
		lo, hi = min(lo, v), max(hi, v)
	}
	// The ink is whichever extreme lies farther from the background.
	invert := bg-lo > hi-bg
	peak := hi - bg
	if invert {
		peak = bg - lo
	}
	if peak < MinContrast {
		return nil, [4]int{}, ErrNoInk
	}
	scale := 1 / peak
	x0, y0, x1, y1 := w, h, -1, -1
	for y := range h {
		row := g[y*w : (y+1)*w]
		for x, v := range row {
			d := v - bg
			if invert {
				d = -d
			}
			v = min(max(d*scale, 0), 1)
			row[x] = v
			if v > InkThreshold {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			}
		}
	}
	if x1 < 0 {
		return nil, [4]int{}, ErrNoInk // unreachable: the peak pixel is above the threshold
	}
	return g, [4]int{x0, y0, x1, y1}, nil
}

// fit runs steps 5 and 6 on the ink levels g, whose digit lies in box
// (x0, y0, x1, y1, inclusive): scale it to fit Box pixels, centre its mass.
func fit(g []float32, w, h int, box [4]int) ([]uint8, error) {
	x0, y0, x1, y1 := box[0], box[1], box[2], box[3]
	// The longer side of the ink's box becomes Box pixels; the shorter
	// keeps the aspect ratio, rounded to whole pixels.
	bw, bh := x1-x0+1, y1-y0+1
	step := float64(max(bw, bh)) / Box // source pixels per output pixel
	nx := min(Box, max(1, int(math.Round(float64(bw)/step))))
	ny := min(Box, max(1, int(math.Round(float64(bh)/step))))
	// Each axis gets its own step so that the box maps exactly onto nx×ny
	// pixels, and one more output pixel on every side for the fringe.
	sx, sy := float64(bw)/float64(nx), float64(bh)/float64(ny)
	fw, fh := nx+2, ny+2
	fit := resample(g, w, h, float64(x0)-sx, float64(y0)-sy, sx, sy, fw, fh)

	// Centre of mass of the fitted digit, in its pixel coordinates.
	var mass, mx, my float64
	for y := range fh {
		for x := range fw {
			v := float64(fit[y*fw+x])
			mass += v
			mx += v * float64(x)
			my += v * float64(y)
		}
	}
	if mass == 0 {
		return nil, ErrNoInk
	}
	// A digit whose mass sits near one end (a 7's bar) could be pushed out
	// of the field; the shift is limited so that the ink's box, which is at
	// most 20 pixels, always stays inside.
	dx := min(max(int(math.Round(Center-mx/mass)), -1), Cols-1-nx)
	dy := min(max(int(math.Round(Center-my/mass)), -1), Rows-1-ny)

	out := make([]uint8, Pixels)
	for y := range fh {
		oy := y + dy
		if oy < 0 || oy >= Rows {
			continue
		}
		for x := range fw {
			ox := x + dx
			if ox < 0 || ox >= Cols {
				continue
			}
			out[oy*Cols+ox] = uint8(math.Round(float64(fit[y*fw+x]) * 255))
		}
	}
	return out, nil
}

// borderMedian is the median level of the outermost ring of pixels: the
// background, even where strokes run off the edge.
func borderMedian(g []float32, w, h int) float32 {
	var ring []float32
	for x := range w {
		ring = append(ring, g[x])
		if h > 1 {
			ring = append(ring, g[(h-1)*w+x])
		}
	}
	for y := 1; y < h-1; y++ {
		ring = append(ring, g[y*w])
		if w > 1 {
			ring = append(ring, g[y*w+w-1])
		}
	}
	slices.Sort(ring)
	return ring[len(ring)/2]
}

// translucent reports whether any pixel of img is not fully opaque.
func translucent(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return !o.Opaque()
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a != 0xffff {
				return true
			}
		}
	}
	return false
}

// grey returns img's luminance in [0,1], row-major, with partly
// transparent pixels composited over a matte of level matte (1 white,
// 0 black). The usual decoded types are read directly: going through At
// costs an allocation-free but slow interface call and conversion per pixel,
// which adds up on camera-sized images.
func grey(img image.Image, matte float32) []float32 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	g := make([]float32, w*h)
	switch m := img.(type) {
	case *image.Gray:
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				g[y*w+x] = float32(row[x]) / 255
			}
		}
		return g
	case *image.YCbCr:
		// JPEG's Y is the luma of the same Rec. 601 weights that
		// color.GrayModel uses.
		for y := range h {
			for x := range w {
				g[y*w+x] = float32(m.Y[m.YOffset(b.Min.X+x, b.Min.Y+y)]) / 255
			}
		}
		return g
	}
	for y := range h {
		for x := range w {
			r, gr, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			// Premultiplied: the luminance of the colour over black, plus
			// the matte showing through what alpha leaves uncovered.
			lum := (19595*r + 38470*gr + 7471*bl + 1<<15) >> 16
			g[y*w+x] = float32(lum)/0xffff + matte*float32(0xffff-a)/0xffff
		}
	}
	return g
}

// resample returns the fw×fh image whose pixel (i, j) covers the source
// rectangle [ox+i·sx, ox+(i+1)·sx) × [oy+j·sy, oy+(j+1)·sy) of the w×h
// image g; outside g is background (0). It filters one axis at a time,
// across only the source rows that some output row reads.
func resample(g []float32, w, h int, ox, oy, sx, sy float64, fw, fh int) []float32 {
	cols := weights(ox, sx, fw, w)
	rows := weights(oy, sy, fh, h)
	tmp := make([]float32, fw*h)
	done := make([]bool, h)
	for _, r := range rows {
		for _, t := range r {
			if done[t.i] {
				continue
			}
			done[t.i] = true
			src, dst := g[t.i*w:(t.i+1)*w], tmp[t.i*fw:(t.i+1)*fw]
			for i, c := range cols {
				var s float32
				for _, u := range c {
					s += u.w * src[u.i]
				}
				dst[i] = s
			}
		}
	}
	out := make([]float32, fw*fh)
	for j, r := range rows {
		for i := range fw {
			var s float32
			for _, t := range r {
				s += t.w * tmp[t.i*fw+i]
			}
			out[j*fw+i] = min(max(s, 0), 1)
		}
	}
	return out
}

// tap is one source pixel's weight in an output pixel.
type tap struct {
	i int
	w float32
}

// weights returns, for each of n output pixels along one axis, the source
// pixels (0 ≤ i < size) it reads and their weights. Shrinking (step ≥ 1),
// an output pixel averages the source it covers, each source pixel weighted
// by the length of its overlap: what anti-aliasing means for pixels that are
// little squares. Enlarging, it interpolates linearly between the two
// nearest source pixel centres, which is smoother than repeating pixels.
// Source pixels outside the image read as background and are left out.
func weights(origin, step float64, n, size int) [][]tap {
	out := make([][]tap, n)
	for i := range out {
		if step >= 1 {
			a, b := origin+float64(i)*step, origin+float64(i+1)*step
			for k := max(0, int(math.Floor(a))); k < size && float64(k) < b; k++ {
				if ov := min(b, float64(k+1)) - max(a, float64(k)); ov > 0 {
					out[i] = append(out[i], tap{k, float32(ov / step)})
				}
			}
			continue
		}
		c := origin + (float64(i)+0.5)*step - 0.5 // source coordinate of the output pixel's centre
		k := int(math.Floor(c))
		f := c - float64(k)
		if k >= 0 && k < size {
			out[i] = append(out[i], tap{k, float32(1 - f)})
		}
		if k+1 >= 0 && k+1 < size && f > 0 {
			out[i] = append(out[i], tap{k + 1, float32(f)})
		}
	}
	return out
}
