package digit

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registers the decoders that image.Decode tries
	_ "image/jpeg"
	_ "image/png"
	"io/fs"
	"os"
	"strings"
)

// MaxPixels bounds the size of an image Decode accepts: 50 megapixels is
// more than any camera photo, and a forged header claiming more would make
// the decoder allocate gigabytes.
const MaxPixels = 50_000_000

// formats names the registered decoders as errors show them, by the name
// image.DecodeConfig reports.
var formats = map[string]string{"png": "PNG", "jpeg": "JPEG", "gif": "GIF"}

// Decode reads a PNG, JPEG or GIF file (the first frame of an animated
// GIF). Its errors name path and the fault: "x.png: not a PNG, JPEG or GIF
// image", "x.png: corrupt PNG: ...".
func Decode(path string) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // "open x.png: ..." would name the file after the operation
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return DecodeBytes(data, path)
}

// DecodeBytes decodes an image held in memory; name stands for it in errors.
func DecodeBytes(data []byte, name string) (image.Image, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: empty file, not a PNG, JPEG or GIF image", name)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if format == "" || errors.Is(err, image.ErrFormat) {
		return nil, fmt.Errorf("%s: not a PNG, JPEG or GIF image", name)
	}
	kind, ok := formats[format]
	if !ok {
		// Registered by some other package linked in (TIFF, BMP...): turned
		// away so that what predict reads does not depend on what else
		// the binary holds.
		return nil, fmt.Errorf("%s: a %s image, not a PNG, JPEG or GIF image", name, strings.ToUpper(format))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt %s: %v", name, kind, cause(err, format))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s: %s image of %d×%d pixels holds nothing", name, kind, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%s: %s image of %d×%d pixels: more than %d megapixels; scale it down",
			name, kind, cfg.Width, cfg.Height, MaxPixels/1_000_000)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt %s: %v", name, kind, cause(err, format))
	}
	return img, nil
}

// cause words a decoder's error without its package prefix ("png: "),
// which would repeat the format named before it.
func cause(err error, format string) string {
	msg := strings.TrimPrefix(err.Error(), format+": ")
	if msg == "unexpected EOF" || msg == "EOF" {
		return "truncated file"
	}
	return msg
}
