package mnist

import (
	"math/rand/v2"
	"testing"
)

// roll is numpy's np.roll on a 28×28 image along one axis, then the row
// or column that wrapped round set to zero, as expand_mnist.py does.
func roll(img []uint8, d, axis int) []uint8 {
	out := make([]uint8, len(img))
	for y := range 28 {
		for x := range 28 {
			ny, nx := y, x
			if axis == 0 {
				ny = (y + d + 28) % 28
			} else {
				nx = (x + d + 28) % 28
			}
			out[ny*28+nx] = img[y*28+x]
		}
	}
	blank := map[[2]int]int{{1, 0}: 0, {-1, 0}: 27, {1, 1}: 0, {-1, 1}: 27}[[2]int{d, axis}]
	for k := range 28 {
		if axis == 0 {
			out[blank*28+k] = 0
		} else {
			out[k*28+blank] = 0
		}
	}
	return out
}

func TestExpandIsExpandMNIST(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := &Set{Images: make([]uint8, 3*Pixels), Labels: []uint8{7, 2, 9}}
	for i := range s.Images {
		s.Images[i] = uint8(1 + rng.IntN(255)) // no zeros: a blanked row shows
	}
	e := Expand(s)
	if e.Len() != 15 {
		t.Fatalf("%d images, want 15", e.Len())
	}
	for i := range s.Len() {
		img := s.Images[i*Pixels : (i+1)*Pixels]
		// expand_mnist.py's loop: the image, then (1, 0), (-1, 0), (1, 1), (-1, 1).
		want := [][]uint8{img, roll(img, 1, 0), roll(img, -1, 0), roll(img, 1, 1), roll(img, -1, 1)}
		for k, w := range want {
			j := 5*i + k
			if e.Labels[j] != s.Labels[i] {
				t.Errorf("image %d shift %d: label %d, want %d", i, k, e.Labels[j], s.Labels[i])
			}
			got := e.Images[j*Pixels : (j+1)*Pixels]
			for p := range w {
				if got[p] != w[p] {
					t.Fatalf("image %d shift %d: pixel (%d,%d) is %d, np.roll gives %d", i, k, p/28, p%28, got[p], w[p])
				}
			}
		}
	}
}
