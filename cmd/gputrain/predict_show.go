package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"path/filepath"

	"github.com/gputrain/gputrain/internal/safefile"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"

	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist/digit"
)

// showSide is the side of the square each picture of predict --show fits:
// the original scaled to fit it, and the 28×28 the network read, each
// pixel a 4×4 square.
const showSide = 28 * 4

// thumbnail scales img to fit a side×side square, keeping its aspect
// ratio. An image with transparency goes on a checkerboard of mid greys,
// which both white and black strokes stand out on (white strokes on a
// transparent canvas would vanish on white); an opaque one covers its
// ground anyway.
func thumbnail(img image.Image, side int) image.Image {
	b := img.Bounds()
	f := float64(side) / float64(max(b.Dx(), b.Dy()))
	w, h := max(1, int(math.Round(float64(b.Dx())*f))), max(1, int(math.Round(float64(b.Dy())*f)))
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	if o, ok := img.(interface{ Opaque() bool }); !ok || !o.Opaque() {
		const sq = 8
		for y := 0; y < h; y += sq {
			for x := 0; x < w; x += sq {
				c := checkerLight
				if (x/sq+y/sq)%2 == 1 {
					c = checkerDark
				}
				draw.Draw(dst, image.Rect(x, y, x+sq, y+sq).Intersect(dst.Bounds()), image.NewUniform(c), image.Point{}, draw.Src)
			}
		}
	}
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Over, nil)
	return dst
}

// The checkerboard a transparent image is shown on.
var checkerLight, checkerDark = color.Gray{Y: 0x99}, color.Gray{Y: 0x66}

// showSideBySide draws, for each image, the original beside what the
// network read, captioned with the prediction and its activation ("unsure:
// 8 or 3" in red when the network is unsure) and the file name; pairs in a
// near-square grid.
func showSideBySide(path, model string, files []string, thumbs []image.Image, pixels []uint8, acts [][]float64) error {
	face := basicfont.Face7x13
	lineH := face.Metrics().Height.Ceil()
	const gap, margin = 8, 8
	captions := make([][2]string, len(files))
	unsure := make([]bool, len(files))
	cellW := 2*showSide + gap
	for i, f := range files {
		s, u := ranked(acts[i])
		label := fmt.Sprintf("%d (%.2f)", s[0].Digit, s[0].Activation)
		if u {
			label = fmt.Sprintf("unsure: %d or %d (%.2f, %.2f)", s[0].Digit, s[1].Digit, s[0].Activation, s[1].Activation)
		}
		name := filepath.Base(f)
		if r := []rune(name); len(r) > 32 {
			name = string(r[:29]) + "..." // basicfont has ASCII only
		}
		captions[i] = [2]string{label, name}
		unsure[i] = u
		cellW = max(cellW, font.MeasureString(face, label).Ceil(), font.MeasureString(face, name).Ceil())
	}
	cellW += 2 * gap
	cellH := showSide + gap + 2*lineH + gap
	cols := int(math.Ceil(math.Sqrt(float64(len(files)))))
	rows := (len(files) + cols - 1) / cols
	title := "left: the image; right: what " + filepath.Base(model) + " read (28x28, preprocessed)"
	titleH := lineH + margin
	w := max(2*margin+cols*cellW, 2*margin+font.MeasureString(face, title).Ceil())
	h := 2*margin + titleH + rows*cellH

	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(pageColor), image.Point{}, draw.Src)
	text(img, face, margin, margin, title, textColor)
	for i := range files {
		x := margin + (i%cols)*cellW + (cellW-2*showSide-gap)/2
		y := margin + titleH + (i/cols)*cellH
		tb := thumbs[i].Bounds()
		at := image.Pt(x+(showSide-tb.Dx())/2, y+(showSide-tb.Dy())/2)
		draw.Draw(img, image.Rectangle{at, at.Add(tb.Size())}, thumbs[i], tb.Min, draw.Src)
		read := image.Rect(x+showSide+gap, y, x+2*showSide+gap, y+showSide)
		px := pixels[i*network.InputSize : (i+1)*network.InputSize]
		xdraw.NearestNeighbor.Scale(img, read, digit.Image(px), image.Rect(0, 0, 28, 28), draw.Src, nil)
		col := color.Color(textColor)
		if unsure[i] {
			col = mistakeColor
		}
		cx := margin + (i%cols)*cellW
		ty := y + showSide + gap
		text(img, face, cx+(cellW-font.MeasureString(face, captions[i][0]).Ceil())/2, ty, captions[i][0], col)
		text(img, face, cx+(cellW-font.MeasureString(face, captions[i][1]).Ceil())/2, ty+lineH, captions[i][1], indexColor)
	}
	return safefile.WriteFileAtomic(path, func(w io.Writer) error { return png.Encode(w, img) })
}
