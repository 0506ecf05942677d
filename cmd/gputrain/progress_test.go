package main

import (
	"io"
	"math"
	"testing"
	"time"
)

// TestProgressLine: the bar counts epochs from 1 out of the run's, and its
// times left are the images left at the rates measured so far: over the
// epoch for the epoch (the run's until the epoch has moved), over the run
// (evaluations included) for the run.
func TestProgressLine(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at          time.Duration
		epoch, done int
		cost        float64
		want        string
	}{
		{0, 0, 1000, math.NaN(), "Epoch 1/30 [                ] 1000/50000 cost ? ETA ?, run ?"},
		// 9,000 images in 0.5 s: 18,000 a second; 40,000 left in the epoch,
		// 1,490,000 in the run.
		{500 * time.Millisecond, 0, 10000, 0.0523, "Epoch 1/30 [===             ] 10000/50000 cost 0.0523 ETA 2.2s, run 1m23s"},
		// A new epoch after 3 s in all (49,000 images in the first): until
		// the epoch has moved, the run's rate, 16,333/s, stands in for its.
		{3 * time.Second, 1, 0, math.NaN(), "Epoch 2/30 [                ] 0/50000 cost ? ETA 3.1s, run 1m29s"},
		{4 * time.Second, 1, 25000, 0.01234567, "Epoch 2/30 [========        ] 25000/50000 cost 0.0123 ETA 1.0s, run 1m17s"},
		{89 * time.Second, 29, 40000, 0.0047, "Epoch 30/30 [============    ] 40000/50000 cost 0.0047 ETA 0.60s, run 0.60s"},
		{90 * time.Second, 29, 50000, 0.0046, "Epoch 30/30 [================] 50000/50000 cost 0.0046 ETA 0.00s, run 0.00s"},
	}
	p := newProgress(io.Discard, false, 50000, 30)
	for _, s := range steps {
		p.now = func() time.Time { return t0.Add(s.at) }
		if got := p.line(s.epoch, s.done, s.cost); got != s.want {
			t.Errorf("at %v, epoch %d, %d done:\n got %q\nwant %q", s.at, s.epoch, s.done, got, s.want)
		}
		if n := len([]rune(p.line(s.epoch, s.done, s.cost))); n >= 80 {
			t.Errorf("%d characters: wider than a terminal", n)
		}
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s    float64
		want string
	}{{0.04, "0.04s"}, {0.996, "1.00s"}, {4.25, "4.2s"}, {37.4, "37s"}, {125, "2m05s"}, {3599.6, "60m00s"}, {3780, "1h03m"}} {
		if got := duration(c.s); got != c.want {
			t.Errorf("duration(%v) = %q, want %q", c.s, got, c.want)
		}
	}
}
