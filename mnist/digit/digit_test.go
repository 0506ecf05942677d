package digit_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gputrain/gputrain/mnist/digit"
)

// canvas returns a w×h grey image filled with level bg.
func canvas(w, h int, bg uint8) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = bg
	}
	return img
}

// rect paints the rectangle r at level v.
func rect(img draw.Image, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// disk paints the disk of centre (cx, cy) and radius r, hard-edged.
func disk(img draw.Image, cx, cy, r float64, c color.Color) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy; dx*dx+dy*dy <= r*r {
				img.Set(x, y, c)
			}
		}
	}
}

// stats are facts about a 28×28 output measured independently of the
// package: the box of pixels above half intensity, the centre of mass,
// and the mean level of the outermost ring.
type stats struct {
	w, h     int
	cx, cy   float64
	border   float64
	maxLevel uint8
}

func measure(t *testing.T, px []uint8) stats {
	t.Helper()
	if len(px) != 784 {
		t.Fatalf("%d pixels, want 784", len(px))
	}
	x0, y0, x1, y1 := 28, 28, -1, -1
	var s stats
	var mass, mx, my, ring float64
	var nring int
	for y := range 28 {
		for x := range 28 {
			v := px[y*28+x]
			s.maxLevel = max(s.maxLevel, v)
			mass += float64(v)
			mx += float64(v) * float64(x)
			my += float64(v) * float64(y)
			if v > 127 {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			}
			if x == 0 || y == 0 || x == 27 || y == 27 {
				ring += float64(v)
				nring++
			}
		}
	}
	s.w, s.h = x1-x0+1, y1-y0+1
	s.cx, s.cy = mx/mass, my/mass
	s.border = ring / float64(nring)
	return s
}

var (
	black = color.Gray{0}
	white = color.Gray{255}
)

// TestPreprocessShapes: shapes drawn off-centre in large images, in either
// polarity, on grey or on transparency, come out as MNIST digits do: light
// on dark, the longer side 20 pixels, the aspect ratio kept, the centre of
// mass within half a pixel of (14, 14).
func TestPreprocessShapes(t *testing.T) {
	nrgba := func(w, h int, bg color.Color) *image.NRGBA {
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		rect(img, img.Bounds(), bg)
		return img
	}
	cases := []struct {
		name       string
		img        image.Image
		wantW      int // width of the ink box for height 20 (or height for width 20)
		tall       bool
		solidBlock bool // a filled rectangle: every box pixel 255, the rest 0
	}{
		{"dark rectangle on white", func() image.Image {
			img := canvas(300, 200, 255)
			rect(img, image.Rect(200, 30, 260, 150), black) // 60×120, right of centre
			return img
		}(), 10, true, true},
		{"light rectangle on black", func() image.Image {
			img := canvas(300, 200, 0)
			rect(img, image.Rect(10, 150, 130, 190), white) // 120×40, bottom left
			return img
		}(), 7, false, true},
		{"dark disk on white", func() image.Image {
			img := canvas(300, 200, 255)
			disk(img, 80, 120, 50, black)
			return img
		}(), 20, true, false},
		{"dark disk on mid grey", func() image.Image {
			img := canvas(300, 200, 140)
			disk(img, 220, 60, 40, color.Gray{20})
			return img
		}(), 20, true, false},
		{"light disk on mid grey", func() image.Image {
			img := canvas(300, 200, 110)
			disk(img, 220, 60, 40, color.Gray{240})
			return img
		}(), 20, true, false},
		{"black ink on transparency", func() image.Image {
			img := nrgba(300, 200, color.NRGBA{})
			rect(img, image.Rect(40, 20, 100, 140), color.NRGBA{0, 0, 0, 255})
			return img
		}(), 10, true, true},
		{"white ink on transparency", func() image.Image {
			img := nrgba(300, 200, color.NRGBA{})
			rect(img, image.Rect(40, 20, 100, 140), color.NRGBA{255, 255, 255, 255})
			return img
		}(), 10, true, true},
		{"blue ink on yellow paper", func() image.Image {
			img := nrgba(300, 200, color.NRGBA{250, 240, 190, 255})
			disk(img, 150, 100, 60, color.NRGBA{20, 30, 160, 255})
			return img
		}(), 20, true, false},
		{"offset bounds", func() image.Image {
			img := canvas(300, 200, 255).SubImage(image.Rect(50, 40, 300, 200)).(*image.Gray)
			rect(img, image.Rect(100, 60, 160, 180), black)
			return img
		}(), 10, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			px, err := digit.Preprocess(c.img)
			if err != nil {
				t.Fatal(err)
			}
			s := measure(t, px)
			long, short := s.h, s.w
			if !c.tall {
				long, short = s.w, s.h
			}
			if long < 19 || long > 21 || short < c.wantW-1 || short > c.wantW+1 {
				t.Errorf("ink box %d×%d: want the longer side 20±1 and the other %d±1", s.w, s.h, c.wantW)
			}
			if math.Abs(s.cx-14) > 0.5 || math.Abs(s.cy-14) > 0.5 {
				t.Errorf("centre of mass (%.2f, %.2f): want within 0.5 of (14, 14)", s.cx, s.cy)
			}
			if s.border != 0 || s.maxLevel != 255 {
				t.Errorf("border mean %.1f, strongest ink %d: want light ink (255) on black", s.border, s.maxLevel)
			}
			if c.solidBlock {
				for i, v := range px {
					if v != 0 && v != 255 {
						t.Fatalf("pixel (%d, %d) = %d: a whole-pixel rectangle scaled by a whole factor has no grey", i%28, i/28, v)
					}
				}
			}
		})
	}
}

// TestPreprocessInvariance: moving the digit, flipping its polarity or
// enlarging it by a whole factor (each pixel repeated) changes nothing.
func TestPreprocessInvariance(t *testing.T) {
	base := func(ox, oy, k int, ink, bg uint8) image.Image {
		img := canvas(40*k+ox+10, 40*k+oy+10, bg)
		// a crude "7": a bar and a slanted stroke, in 40×40 units of k pixels
		for y := range 40 {
			for x := range 40 {
				bar := y >= 4 && y < 10 && x >= 6 && x < 34
				stem := y >= 10 && y < 38 && x >= 30-(y-10)*2/3 && x < 36-(y-10)*2/3
				if bar || stem {
					for j := range k {
						for i := range k {
							img.SetGray(ox+x*k+i, oy+y*k+j, color.Gray{ink})
						}
					}
				}
			}
		}
		return img
	}
	want, err := digit.Preprocess(base(0, 0, 1, 255, 0))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		img  image.Image
	}{
		{"moved", base(37, 5, 1, 255, 0)},
		{"dark on light", base(3, 20, 1, 0, 255)},
		{"enlarged ×3", base(7, 0, 3, 255, 0)},
		{"enlarged ×8, dark on light", base(100, 33, 8, 0, 255)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := digit.Preprocess(c.img)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("differs from the original's preprocessing:\n%s\nwant\n%s", ascii(got), ascii(want))
			}
		})
	}
}

// ascii draws a 28×28 image for failure messages.
func ascii(px []uint8) string {
	var b bytes.Buffer
	for y := range 28 {
		for x := range 28 {
			b.WriteByte(" .:-=+*#%@"[int(px[y*28+x])*10/256])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestPreprocessNoInk: images without a digit are ErrNoInk, never a
// digit conjured from noise.
func TestPreprocessNoInk(t *testing.T) {
	noisy := canvas(300, 200, 200)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noisy.Pix {
		noisy.Pix[i] = uint8(200 + rng.IntN(21) - 10) // ±10 levels, like JPEG noise on paper
	}
	cases := []struct {
		name string
		img  image.Image
	}{
		{"white", canvas(300, 200, 255)},
		{"black", canvas(300, 200, 0)},
		{"grey", canvas(300, 200, 128)},
		{"noise on paper", noisy},
		{"transparent", image.NewNRGBA(image.Rect(0, 0, 50, 50))},
		{"one pixel", canvas(1, 1, 0)},
		{"empty", image.NewGray(image.Rect(0, 0, 0, 0))},
		{"blank page, shaded and grainy", blankPhoto(3, func(w, h int, rng *rand.Rand) func(x, y float64) float64 { return ramp(w, h, 0.4, rng) })},
		{"blank page, shaded another way", blankPhoto(5, func(w, h int, rng *rand.Rand) func(x, y float64) float64 { return ramp(w, h, 0.3, rng) })},
		{"blank page under a shadow", blankPhoto(3, func(w, h int, rng *rand.Rand) func(x, y float64) float64 { return shadow(w, h, 0.5, rng) })},
		{"blank page under another shadow", blankPhoto(5, func(w, h int, rng *rand.Rand) func(x, y float64) float64 { return shadow(w, h, 0.6, rng) })},
		{"blank page under a third shadow", blankPhoto(7, func(w, h int, rng *rand.Rand) func(x, y float64) float64 { return shadow(w, h, 0.5, rng) })},
		{"faint mark", func() image.Image {
			img := canvas(100, 100, 255)
			rect(img, image.Rect(40, 40, 60, 60), color.Gray{240})
			return img
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			px, err := digit.Preprocess(c.img)
			if !errors.Is(err, digit.ErrNoInk) {
				t.Fatalf("got %v (%d pixels), want ErrNoInk", err, len(px))
			}
		})
	}
}

// blankPhoto is a photo of an empty page of white paper, lit as light
// says, with sensor noise; seed draws the light and the noise.
func blankPhoto(seed uint64, light func(w, h int, rng *rand.Rand) func(x, y float64) float64) image.Image {
	rng := rand.New(rand.NewPCG(seed, 4))
	const w, h = 240, 200
	return photo{paper: white3, ink: black3, light: light(w, h, rng), noise: 0.03}.render(make([]float64, w*h), w, h, rng)
}

// TestPreprocessSizes: images much smaller or larger than 28×28 work, and a
// camera-sized one takes well under a second's work.
func TestPreprocessSizes(t *testing.T) {
	tiny := canvas(5, 5, 255)
	rect(tiny, image.Rect(2, 1, 3, 4), black) // a 1×3 stroke: enlarged 6 times
	px, err := digit.Preprocess(tiny)
	if err != nil {
		t.Fatal(err)
	}
	if s := measure(t, px); s.h < 19 || s.h > 21 || s.w > 9 {
		t.Errorf("5×5 image: ink box %d×%d, want 20 tall and narrow", s.w, s.h)
	}

	huge := image.NewRGBA(image.Rect(0, 0, 4000, 3000)) // RGBA: the generic, slowest path
	rect(huge, huge.Bounds(), color.White)
	disk(huge.SubImage(image.Rect(1000, 500, 3000, 2500)).(draw.Image), 2000, 1500, 900, color.Black)
	rect(huge, image.Rect(1850, 400, 2150, 2600), color.Black) // a thick stroke through it
	start := time.Now()
	px, err = digit.Preprocess(huge)
	el := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	s := measure(t, px)
	if s.h < 19 || s.h > 21 || math.Abs(s.cx-14) > 0.5 || math.Abs(s.cy-14) > 0.5 {
		t.Errorf("4000×3000 image: ink box %d×%d, centre (%.2f, %.2f)", s.w, s.h, s.cx, s.cy)
	}
	t.Logf("4000×3000 RGBA preprocessed in %v", el)
	if el > 10*time.Second {
		t.Errorf("4000×3000 image took %v", el)
	}
}

func TestImage(t *testing.T) {
	px := make([]uint8, 784)
	for i := range px {
		px[i] = uint8(i * 7)
	}
	img := digit.Image(px)
	if img.Bounds() != image.Rect(0, 0, 28, 28) {
		t.Fatalf("bounds %v", img.Bounds())
	}
	for _, p := range []image.Point{{0, 0}, {27, 0}, {0, 27}, {13, 20}} {
		if got, want := img.GrayAt(p.X, p.Y).Y, px[p.Y*28+p.X]; got != want {
			t.Errorf("pixel %v = %d, want %d (row-major)", p, got, want)
		}
	}
	px[0] = 99
	if img.Pix[0] == 99 {
		t.Error("Image shares the caller's slice")
	}
	defer func() {
		if recover() == nil {
			t.Error("Image of 783 pixels did not panic")
		}
	}()
	digit.Image(px[:783])
}
