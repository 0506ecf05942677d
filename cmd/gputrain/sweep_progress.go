package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// The sweep's progress bar, drawn on a terminal only.

// isTerminal reports whether w is a terminal, where a progress line helps.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// showProgressLocked draws the sweep's one progress line on a terminal:
// network-epochs done of all, and the time left at the rate so far.
func (r *sweepRun) showProgressLocked() {
	if !r.progressTerminal || r.total == 0 {
		return
	}
	elapsed := time.Since(r.started)
	left := "?"
	if r.done > 0 {
		left = (time.Duration(float64(elapsed) * float64(r.total-r.done) / float64(r.done))).Round(time.Second).String()
	}
	fmt.Fprintf(r.stderr, "\rsweep: %d/%d network-epochs (%.0f%%), %s left ", r.done, r.total, 100*float64(r.done)/float64(r.total), left)
	r.progressShown = true
}

func (r *sweepRun) clearProgressLocked() {
	if r.progressShown {
		fmt.Fprint(r.stderr, "\r\033[K")
		r.progressShown = false
	}
}

func (r *sweepRun) clearProgress() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clearProgressLocked()
}
