package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/gputrain/gputrain/internal/safefile"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// Default numbers of digits drawn: a 4×4 grid of a split, a 6×6 grid of
// mistakes (there are more of those worth looking at).
const (
	showN          = 16
	showNMistakes  = 36
	showMaxScale   = 16
	showCaptionGap = 6
)

// The grid's colours: digits as the network sees them (light ink on black)
// on a white page, mistakes' captions in red.
var (
	pageColor    = color.White
	textColor    = color.Black
	indexColor   = color.Gray{Y: 120}
	mistakeColor = color.RGBA{R: 190, A: 255}
)

// cell is one digit of the grid and its captions.
type cell struct {
	pixels []uint8
	label  string
	index  string
	wrong  bool
}

func runShow(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("gputrain show")
	data := fs.String("data", defaultData, "directory of the MNIST files (fetched there when missing), or the book's mnist.pkl.gz")
	split := fs.String("split", "test", "the images to draw from: "+strings.Join(splits, ", "))
	n := cli.Int(fs, "n", 0, fmt.Sprintf("how many digits to draw (default %d, or %d with --misclassified)", showN, showNMistakes))
	offset := cli.Int(fs, "offset", 0, "start at this image of the split")
	model := fs.String("model", "", "caption each digit with this model's prediction: "+modelFlagHelp)
	combine := fs.String("combine", "vote", combineFlagHelp)
	mistakes := fs.Bool("misclassified", false, "draw only the digits the --model gets wrong")
	scale := cli.Int(fs, "scale", 3, "pixels per MNIST pixel")
	dtype := fs.String("dtype", "float32", "float32 or float64: the precision the model predicts in")
	device := fs.String("device", "cpu", "cpu or cuda: where the --model predicts")
	maxMemory := fs.String("max-memory", "", "refuse an image needing more memory than this (4GiB, 500MB; default: what the machine has available)")
	anyData := fs.Bool("allow-noncanonical", false, "read MNIST files that are not the canonical ones (a dataset of your own)")
	files, err := parseFiles(fs, args, stdout)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case len(files) == 0:
		return cli.Usagef("no output file given: name the PNG file to write")
	case len(files) > 1:
		return cli.Usagef("%d output files given (%s): want one PNG file", len(files), strings.Join(files, " "))
	case !strings.EqualFold(filepath.Ext(files[0]), ".png"):
		return cli.Usagef("%s: the output is a PNG image; give a file name ending in .png", files[0])
	case set["n"] && *n < 1:
		return cli.Usagef("--n %d: must be at least 1", *n)
	case *offset < 0:
		return cli.Usagef("--offset %d: must be 0 or more", *offset)
	case *scale < 1 || *scale > showMaxScale:
		return cli.Usagef("--scale %d: want 1 to %d", *scale, showMaxScale)
	case *mistakes && *model == "":
		return cli.Usagef("--misclassified needs --model: the model whose mistakes to draw")
	case *data == "":
		return cli.Usagef("--data is empty: name the folder of the MNIST files")
	}
	if err := checkSplit(*split); err != nil {
		return err
	}
	if err := checkDevice(*device); err != nil {
		return err
	}
	dt, err := graph.ParseDtype(*dtype)
	if err != nil {
		return cli.Usagef("--dtype: %v", err)
	}
	if !set["n"] {
		*n = showN
		if *mistakes {
			*n = showNMistakes
		}
	}
	out := files[0]
	if err := safefile.ProbeWritable(out); err != nil {
		return cli.Usagef("%v", err)
	}
	limit, err := memlimit.Get(*maxMemory)
	if err != nil {
		return cli.Usagef("%v", err)
	}

	var net *modelSet
	var arch network.Arch
	if *model != "" {
		if net, err = loadModels(*model, *combine, limit); err != nil {
			return err
		}
		net.device = *device
		arch = net.widest()
	}
	// The grid's size is known before the data is read: at most the
	// canonical split's images from --offset on, each caption at most
	// as wide as the widest one possible.
	drawn := max(1, min(*n, canonicalSplit[*split]-*offset))
	widest := fmt.Sprintf("#%d", *offset+drawn)
	if net != nil && len(widest) < len("pred 0 / true 0") {
		widest = "pred 0 / true 0"
	}
	if err := limit.Check(fmt.Sprintf("--n %d at --scale %d (a grid of %d digits)", *n, *scale, drawn),
		showEstimate(drawn, *scale, "", widest, arch)); err != nil {
		return cli.Usagef("%v", err)
	}
	d, err := mnist.EnsureWith(*data, stderr, dataOptions(*anyData, limit))
	if err != nil {
		return err
	}
	if net != nil {
		if err := checkDeviceData(*device, d, "use"); err != nil {
			return err
		}
	}
	all := splitSet(d, *split)
	if all.Len() == 0 {
		return fmt.Errorf("the %s set of %s has no images", *split, *data)
	}
	if *offset >= all.Len() {
		return cli.Usagef("--offset %d: the %s set has %d images", *offset, *split, all.Len())
	}
	s := all.Slice(*offset, all.Len())
	var pred []uint8
	if net != nil {
		if _, pred, err = net.digits(s, dt); err != nil {
			return err
		}
	}

	var cells []cell
	wrong := 0
	for i := range s.Len() {
		c := cell{pixels: s.Image(i), label: fmt.Sprint(s.Labels[i]), index: fmt.Sprintf("#%d", *offset+i)}
		if pred != nil {
			c.wrong = pred[i] != s.Labels[i]
			c.label = fmt.Sprintf("pred %d / true %d", pred[i], s.Labels[i])
			if c.wrong {
				wrong++
			}
		}
		if (!*mistakes || c.wrong) && len(cells) < *n {
			cells = append(cells, c)
		}
		if len(cells) == *n && !*mistakes {
			break
		}
	}
	from := ""
	if *offset > 0 {
		from = fmt.Sprintf(" from #%d", *offset)
	}
	var title string
	if *mistakes {
		if wrong == 0 {
			return fmt.Errorf("%s gets all %d %s images%s right: no mistakes to draw", net.name(), s.Len(), *split, from)
		}
		title = fmt.Sprintf("%s: %d of the %d %s images%s it gets wrong (%.2f%% correct)",
			filepath.Base(net.name()), len(cells), wrong, *split, from, 100*float64(s.Len()-wrong)/float64(s.Len()))
	} else {
		title = fmt.Sprintf("MNIST %s images #%d to #%d", *split, *offset, *offset+len(cells)-1)
		if net != nil {
			title += fmt.Sprintf(", predicted by %s", filepath.Base(net.name()))
		}
	}
	img := digitGrid(title, cells, *scale)
	if err := safefile.WriteFileAtomic(out, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s\n", out, title)
	return nil
}

// digitGrid draws the cells in a near-square grid under a title line, each
// digit enlarged scale times (each pixel a crisp square, so that what is
// drawn is what the network reads) with its captions below.
func digitGrid(title string, cells []cell, scale int) *image.RGBA {
	face := basicfont.Face7x13
	lineH := face.Metrics().Height.Ceil()
	tile := 28 * scale
	widest := ""
	for _, c := range cells {
		for _, s := range []string{c.label, c.index} {
			if len(s) > len(widest) {
				widest = s
			}
		}
	}
	w, h, cols, cellW, cellH := gridSize(title, widest, len(cells), scale)
	const margin = 8
	titleH := lineH + margin
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(pageColor), image.Point{}, draw.Src)
	text(img, face, margin, margin, title, textColor)
	for i, c := range cells {
		x := margin + (i%cols)*cellW
		y := margin + titleH + (i/cols)*cellH
		tx := x + (cellW-tile)/2
		for py := range 28 {
			for px := range 28 {
				v := c.pixels[py*28+px]
				r := image.Rect(tx+px*scale, y+py*scale, tx+(px+1)*scale, y+(py+1)*scale)
				draw.Draw(img, r, image.NewUniform(color.Gray{Y: v}), image.Point{}, draw.Src)
			}
		}
		col := color.Color(textColor)
		if c.wrong {
			col = mistakeColor
		}
		ty := y + tile + showCaptionGap
		text(img, face, x+(cellW-font.MeasureString(face, c.label).Ceil())/2, ty, c.label, col)
		text(img, face, x+(cellW-font.MeasureString(face, c.index).Ceil())/2, ty+lineH, c.index, indexColor)
	}
	return img
}

// gridSize is the layout of digitGrid: the image's width and height, the
// number of columns and a cell's size, for n digits at scale whose widest
// caption is widest (basicfont is fixed-width).
func gridSize(title, widest string, n, scale int) (w, h, cols, cellW, cellH int) {
	face := basicfont.Face7x13
	lineH := face.Metrics().Height.Ceil()
	tile := 28 * scale
	cellW = max(tile, font.MeasureString(face, widest).Ceil()) + 2*showCaptionGap
	cellH = tile + showCaptionGap + 2*lineH + showCaptionGap
	cols = max(1, int(math.Ceil(math.Sqrt(float64(n)))))
	rows := (n + cols - 1) / cols
	const margin = 8
	titleH := lineH + margin
	w = max(2*margin+cols*cellW, 2*margin+font.MeasureString(face, title).Ceil())
	h = 2*margin + titleH + rows*cellH
	return w, h, cols, cellW, cellH
}

// text draws s with its top-left corner at (x, y).
func text(dst draw.Image, face font.Face, x, y int, s string, col color.Color) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(col), Face: face,
		Dot: fixed.P(x, y+face.Metrics().Ascent.Ceil())}
	d.DrawString(s)
}
