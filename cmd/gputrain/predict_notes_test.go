package main

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"os"
	"path/filepath"
	"testing"
)

// TestThumbnailTransparent: white strokes on a transparent canvas show on
// --show's picture: the ground is the mid-grey checkerboard, not white;
// an opaque image keeps its own ground.
func TestThumbnailTransparent(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(0, 0, 56, 56)) // transparent
	for y := 10; y < 46; y++ {
		for x := 26; x < 30; x++ {
			img.Set(x, y, color.White) // a white "1"
		}
	}
	th := thumbnail(img, showSide)
	grey := func(x, y int) uint8 { return color.GrayModel.Convert(th.At(x, y)).(color.Gray).Y }
	stroke, ground := grey(showSide/2, showSide/2), grey(2, 2)
	if stroke < 0xf0 || ground > 0xa0 {
		t.Errorf("stroke %#x on ground %#x: want white on mid grey", stroke, ground)
	}
	if a, b := grey(2, 2), grey(10, 2); a == b {
		t.Errorf("ground %#x and %#x: want a checkerboard", a, b)
	}
	opaque := image.NewGray(image.Rect(0, 0, 28, 28))
	for i := range opaque.Pix {
		opaque.Pix[i] = 0xff
	}
	if g := color.GrayModel.Convert(thumbnail(opaque, showSide).At(2, 2)).(color.Gray).Y; g != 0xff {
		t.Errorf("an opaque white image's thumbnail is %#x at its corner, want white", g)
	}
}

// TestPredictAnimatedGIF: an animated GIF is predicted from its first
// frame, and a note on stderr says so; a still GIF gets none.
func TestPredictAnimatedGIF(t *testing.T) {
	t.Parallel()
	model, _ := randomModel(t)
	dir := t.TempDir()
	pal := color.Palette{color.White, color.Black}
	write := func(name string, frames int) string {
		g := &gif.GIF{}
		for range frames {
			f := image.NewPaletted(image.Rect(0, 0, 28, 28), pal)
			for y := 4; y < 24; y++ {
				f.SetColorIndex(13, y, 1) // a black "1"
				f.SetColorIndex(14, y, 1)
			}
			g.Image, g.Delay = append(g.Image, f), append(g.Delay, 10)
		}
		var b bytes.Buffer
		if err := gif.EncodeAll(&b, g); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, b.Bytes(), 0o644)
		return p
	}
	anim, still := write("anim.gif", 3), write("still.gif", 1)
	code, _, stderr := runCLI("predict", "--model", model, anim, still)
	if code != 0 || stderr != "gputrain predict: note: "+anim+" is an animated GIF: its first frame is read\n" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}
