package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws one line on a terminal: mini-batches done, images per
// second and time left. It draws nothing on a pipe or with --quiet, so
// logs hold the epoch lines alone.
type progress struct {
	w     io.Writer
	on    bool
	total int
	epoch int
	start time.Time
	shown bool
}

func newProgress(w io.Writer, quiet bool, total int) *progress {
	on := false
	if f, ok := w.(*os.File); ok && !quiet {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			on = true
		}
	}
	return &progress{w: w, on: on, total: total, epoch: -1}
}

func (p *progress) update(epoch, done int) {
	if !p.on {
		return
	}
	now := time.Now()
	if epoch != p.epoch {
		p.epoch, p.start = epoch, now
	}
	el := now.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el
	}
	left := "?"
	if rate > 0 {
		left = fmt.Sprintf("%.1fs", float64(p.total-done)/rate)
	}
	const width = 30
	fill := width * done / max(1, p.total)
	fmt.Fprintf(p.w, "\rEpoch %d [%s%s] %d/%d images, %.0f img/s, %s left ",
		epoch, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, p.total, rate, left)
	p.shown = true
}

func (p *progress) clear() {
	if p.shown {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 100))
		p.shown = false
	}
}
