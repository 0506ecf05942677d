package digit

// GIFFrames counts the frames of a GIF file, up to two (enough to tell
// an animation, which Decode reads from its first frame only), by walking
// its blocks without decoding a pixel. A file that is not a GIF, or whose
// blocks break off, counts the frames found before the break.
func GIFFrames(data []byte) int {
	if len(data) < 13 || string(data[:3]) != "GIF" {
		return 0
	}
	i := 13
	if flags := data[10]; flags&0x80 != 0 { // a global colour table
		i += 3 << (flags&7 + 1)
	}
	// skip passes the data sub-blocks at i, to the terminator's end.
	skip := func() bool {
		for i < len(data) {
			n := int(data[i])
			i++
			if n == 0 {
				return true
			}
			i += n
		}
		return false
	}
	frames := 0
	for i < len(data) && frames < 2 {
		switch data[i] {
		case 0x21: // an extension: its label, then sub-blocks
			i += 2
			if !skip() {
				return frames
			}
		case 0x2c: // an image descriptor
			if i+10 > len(data) {
				return frames
			}
			flags := data[i+9]
			i += 10
			if flags&0x80 != 0 { // a local colour table
				i += 3 << (flags&7 + 1)
			}
			i++ // the LZW minimum code size
			if !skip() {
				return frames + 1
			}
			frames++
		default: // the trailer, or a broken file
			return frames
		}
	}
	return frames
}
