package mnist

// Expand returns chapter 6's expanded training set, expand_mnist.py's:
// each image of s followed by its four one-pixel shifts, down, up, right
// and left (the row or column shifted in is blank), five times the
// images in all, each shift with its image's label. expand_mnist.py then
// shuffles the 250,000 images once with Python's unseeded random; here
// they stay in this fixed order, since training shuffles every epoch.
func Expand(s *Set) *Set {
	const side = 28
	n := s.Len()
	out := &Set{Images: make([]uint8, 5*n*Pixels), Labels: make([]uint8, 5*n)}
	// np.roll(image, d, axis) then zeroing the row or column that wrapped
	// round: dy, dx is where a pixel moves.
	shifts := [5][2]int{{0, 0}, {1, 0}, {-1, 0}, {0, 1}, {0, -1}}
	for i := range n {
		img := s.Images[i*Pixels : (i+1)*Pixels]
		for k, d := range shifts {
			j := 5*i + k
			dst := out.Images[j*Pixels : (j+1)*Pixels]
			out.Labels[j] = s.Labels[i]
			for y := range side {
				sy := y - d[0]
				if sy < 0 || sy >= side {
					continue
				}
				for x := range side {
					if sx := x - d[1]; sx >= 0 && sx < side {
						dst[y*side+x] = img[sy*side+sx]
					}
				}
			}
		}
	}
	return out
}
