package main

import "testing"

// TestCh6Met: the verdict on a chapter 6 target counts runs of the book's
// epochs or fewer on the whole training set, and no other.
func TestCh6Met(t *testing.T) {
	for _, c := range []struct {
		reached                        bool
		epochs, bookEpochs, trainLimit int
		want                           string
	}{
		{true, 0, 60, 0, "yes"},
		{false, 0, 60, 0, "no"},
		{true, 60, 60, 0, "yes"},
		{true, 40, 60, 0, "yes, in 40 of the book's 60 epochs"},
		{false, 40, 60, 0, "no"},
		{true, 80, 60, 0, "— (more epochs than the book's)"},
		{false, 80, 60, 0, "— (more epochs than the book's)"},
		{true, 0, 60, 500, "— (part of the training set)"},
	} {
		if got := ch6Met(c.reached, c.epochs, c.bookEpochs, c.trainLimit); got != c.want {
			t.Errorf("ch6Met(%v, %d, %d, %d) = %q, want %q", c.reached, c.epochs, c.bookEpochs, c.trainLimit, got, c.want)
		}
	}
}
