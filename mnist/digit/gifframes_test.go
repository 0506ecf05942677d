package digit

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"testing"
)

// TestGIFFrames: the count of frames image/gif's encoder wrote, up to two,
// for still and animated GIFs with and without local colour tables.
func TestGIFFrames(t *testing.T) {
	pal := color.Palette{color.White, color.Black}
	frame := func() *image.Paletted { return image.NewPaletted(image.Rect(0, 0, 28, 28), pal) }
	for _, c := range []struct {
		name   string
		frames int
		want   int
	}{{"still", 1, 1}, {"two frames", 2, 2}, {"five frames", 5, 2}} {
		t.Run(c.name, func(t *testing.T) {
			g := &gif.GIF{}
			for range c.frames {
				g.Image = append(g.Image, frame())
				g.Delay = append(g.Delay, 10)
			}
			var b bytes.Buffer
			if err := gif.EncodeAll(&b, g); err != nil {
				t.Fatal(err)
			}
			if got := GIFFrames(b.Bytes()); got != c.want {
				t.Errorf("GIFFrames = %d, want %d", got, c.want)
			}
		})
	}
	if got := GIFFrames([]byte("\x89PNG\r\n\x1a\n....")); got != 0 {
		t.Errorf("a PNG: %d frames", got)
	}
}
