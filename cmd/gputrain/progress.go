package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// progress draws one line on a terminal: the epoch out of the run's, a
// bar, images done, their mean cost so far, and the time left in the epoch
// (ETA) and in the whole run (as Keras shows it). It draws nothing on a pipe or
// with --quiet, so logs hold the epoch lines alone.
type progress struct {
	w      io.Writer
	on     bool
	total  int // images per epoch
	epochs int // the run ends before epoch epochs
	now    func() time.Time

	started    bool
	runStart   time.Time
	runBase    int // images done in the run when the bar first drew
	epoch      int
	epochStart time.Time
	epochBase  int // images done in the epoch when it first drew
	shown      bool
}

// newProgress makes the bar of a run of epochs epochs (numbered from 0, as
// the book's lines are) over total images each.
func newProgress(w io.Writer, quiet bool, total, epochs int) *progress {
	on := false
	if f, ok := w.(*os.File); ok && !quiet {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			on = true
		}
	}
	return &progress{w: w, on: on, total: total, epochs: epochs, now: time.Now, epoch: -1}
}

func (p *progress) update(epoch, done int, cost float64) {
	if !p.on {
		return
	}
	fmt.Fprintf(p.w, "\r%s ", p.line(epoch, done, cost))
	p.shown = true
}

// line is the bar's text after done images of epoch epoch, whose mean
// cost is cost (NaN: not known yet).
func (p *progress) line(epoch, done int, cost float64) string {
	now := p.now()
	inRun := epoch*p.total + done // images since epoch 0
	if !p.started {
		p.started, p.runStart, p.runBase = true, now, inRun
	}
	if epoch != p.epoch {
		p.epoch, p.epochStart, p.epochBase = epoch, now, done
	}
	// Rates over the whole run so far, evaluations and checkpoints
	// included, so that the run's time left counts them too.
	epochLeft, runLeft := "?", "?"
	var rate float64
	if el := now.Sub(p.runStart).Seconds(); el > 0 && inRun > p.runBase {
		rate = float64(inRun-p.runBase) / el
		runLeft = duration(float64(p.epochs*p.total-inRun) / rate)
	}
	if el := now.Sub(p.epochStart).Seconds(); el > 0 && done > p.epochBase {
		epochLeft = duration(float64(p.total-done) * el / float64(done-p.epochBase))
	} else if rate > 0 {
		// The epoch has not moved yet since the bar first saw it: the
		// run's rate stands in.
		epochLeft = duration(float64(p.total-done) / rate)
	}
	// Counted from 1 here, "Epoch 30/30" being the last, where the
	// book's line that replaces the bar says "Epoch 29".
	const width = 16 // the line fits 80 columns: a longer one would wrap, and \r not reach its start
	fill := min(width, width*done/max(1, p.total))
	c := "?"
	if !math.IsNaN(cost) {
		c = fmt.Sprintf("%.4f", cost)
	}
	return fmt.Sprintf("Epoch %d/%d [%s%s] %d/%d cost %s ETA %s, run %s",
		epoch+1, p.epochs, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, p.total, c, epochLeft, runLeft)
}

// duration words seconds as a person reads them: 0.14s, 4.2s, 37s,
// 2m05s, 1h03m.
func duration(s float64) string {
	switch {
	case s < 1:
		return fmt.Sprintf("%.2fs", s)
	case s < 10:
		return fmt.Sprintf("%.1fs", s)
	case s < 60:
		return fmt.Sprintf("%.0fs", s)
	case s < 3600:
		m := int(s+0.5) / 60
		return fmt.Sprintf("%dm%02ds", m, int(s+0.5)-60*m)
	default:
		m := int(s/60 + 0.5)
		return fmt.Sprintf("%dh%02dm", m/60, m%60)
	}
}

func (p *progress) clear() {
	if p.shown {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 80))
		p.shown = false
	}
}
