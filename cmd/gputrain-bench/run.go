package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// epochLine is one epoch as a peer reports it. Peers may print more
// fields (gputrain adds cost, accuracy, eval_seconds); these are the ones
// every peer shares.
type epochLine struct {
	Epoch   int      `json:"epoch"`
	Correct int      `json:"correct"`
	Total   int      `json:"total"`
	Seconds *float64 `json:"seconds"`
}

// parseEpochLine decodes one output line. ok is false for a line that is
// not a JSON object (a peer's stray log line), which callers skip; a JSON
// object without "seconds" or with a bad value is an error, since it means
// the peer and the driver disagree about the format.
func parseEpochLine(line string) (e epochLine, ok bool, err error) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "{") {
		return e, false, nil
	}
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		return e, false, fmt.Errorf("bad epoch line %q: %v", line, err)
	}
	switch {
	case e.Seconds == nil:
		return e, false, fmt.Errorf(`epoch line %q has no "seconds"`, line)
	case *e.Seconds < 0 || math.IsNaN(*e.Seconds) || math.IsInf(*e.Seconds, 0):
		return e, false, fmt.Errorf("epoch line %q: bad seconds %v", line, *e.Seconds)
	case e.Correct < 0 || e.Total < 0 || e.Correct > e.Total:
		return e, false, fmt.Errorf("epoch line %q: correct %d of total %d", line, e.Correct, e.Total)
	}
	return e, true, nil
}

// parseEpochs reads every epoch line of a peer's output, in order, and
// checks that the epochs count up from the first.
func parseEpochs(r io.Reader, each func(epochLine)) ([]epochLine, error) {
	var out []epochLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		e, ok, err := parseEpochLine(sc.Text())
		if err != nil {
			return out, err
		}
		if !ok {
			continue
		}
		if n := len(out); n > 0 && e.Epoch != out[n-1].Epoch+1 {
			return out, fmt.Errorf("epoch %d follows epoch %d", e.Epoch, out[n-1].Epoch)
		}
		out = append(out, e)
		if each != nil {
			each(e)
		}
	}
	return out, sc.Err()
}

// runResult is what one peer process produced.
type runResult struct {
	Epochs  []epochLine
	PeakRSS int64 // bytes; 0 if the system does not say
	Wall    time.Duration
	// Others is the share of the machine's CPU time that other processes
	// used while the peer ran, 0..1, or -1 if unknown. This machine is
	// shared, and a run that competed for the cores is not a fair one.
	Others float64
}

// secs returns every epoch's training seconds.
func (r runResult) secs() []float64 {
	s := make([]float64, len(r.Epochs))
	for i, e := range r.Epochs {
		s[i] = *e.Seconds
	}
	return s
}

// last is the final epoch's report.
func (r runResult) last() epochLine { return r.Epochs[len(r.Epochs)-1] }

// runPeer runs argv, reads its epoch lines as they come (echoing them to
// log so a long benchmark shows progress) and returns them with the
// process's peak RSS. A peer that fails or reports no epoch is an error
// that quotes the end of its stderr.
func runPeer(ctx context.Context, argv, env []string, log io.Writer, label string) (runResult, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if env != nil {
		cmd.Env = env
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return runResult{}, err
	}
	statBefore, statOK := readProcStat()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return runResult{}, fmt.Errorf("%s: %w", label, err)
	}
	epochs, perr := parseEpochs(out, func(e epochLine) {
		fmt.Fprintf(log, "  %s: epoch %d %.3fs", label, e.Epoch, *e.Seconds)
		if e.Total > 0 {
			fmt.Fprintf(log, " %d/%d", e.Correct, e.Total)
		}
		fmt.Fprintln(log)
	})
	if perr != nil {
		// Drain so that the process is not blocked writing while we wait.
		io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	res := runResult{Epochs: epochs, Wall: time.Since(start), Others: -1}
	if cmd.ProcessState != nil {
		res.PeakRSS = maxRSS(cmd.ProcessState)
		if statAfter, ok := readProcStat(); ok && statOK {
			own := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
			res.Others = othersShare(statBefore, statAfter, own, res.Wall.Seconds(), runtime.NumCPU())
		}
	}
	switch {
	case werr != nil:
		return res, fmt.Errorf("%s: %v%s", label, werr, tail(stderr.String()))
	case perr != nil:
		return res, fmt.Errorf("%s: %v", label, perr)
	case len(epochs) == 0:
		return res, fmt.Errorf("%s: reported no epoch%s", label, tail(stderr.String()))
	}
	return res, nil
}

// cpuTimes is the machine-wide CPU time from /proc/stat, in clock ticks.
type cpuTimes struct{ busy, total uint64 }

// parseProcStat reads the aggregate "cpu" line of /proc/stat: user, nice,
// system, idle, iowait, irq, softirq, steal (guest time is already inside
// user). Idle and iowait are the only fields that are not work.
func parseProcStat(text string) (cpuTimes, bool) {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] != "cpu" {
			continue
		}
		var t cpuTimes
		for i, v := range f[1:] {
			if i >= 8 {
				break
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return cpuTimes{}, false
			}
			t.total += n
			if i != 3 && i != 4 {
				t.busy += n
			}
		}
		return t, true
	}
	return cpuTimes{}, false
}

func readProcStat() (cpuTimes, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, false
	}
	return parseProcStat(string(b))
}

// othersShare is the share of all cores' time, over a run of wall
// seconds, that went to work other than the peer's own ownCPU seconds.
func othersShare(before, after cpuTimes, ownCPU, wall float64, cores int) float64 {
	total := float64(after.total - before.total)
	if total <= 0 || wall <= 0 || cores < 1 {
		return -1
	}
	share := float64(after.busy-before.busy)/total - ownCPU/(wall*float64(cores))
	return max(0, min(1, share))
}

// tail is the last few lines of a peer's stderr, for error messages.
func tail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 6 {
		lines = lines[len(lines)-6:]
	}
	return "\n    " + strings.Join(lines, "\n    ")
}

// median of xs (the mean of the middle two for an even count); NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// minimum of xs; NaN for none.
func minimum(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return slices.Min(xs)
}

// quietPolicy says when a run was disturbed enough by other processes to
// be run again.
type quietPolicy struct {
	MaxOthers float64 // rerun when others used more than this share of the CPU
	Retries   int     // at most this many reruns
}

// runQuiet runs a peer, and again while other processes took more than
// q.MaxOthers of the CPU during its run, up to q.Retries times; it keeps
// the least disturbed run.
func runQuiet(ctx context.Context, q quietPolicy, argv, env []string, log io.Writer, label string) (runResult, error) {
	best, err := runPeer(ctx, argv, env, log, label)
	for i := 0; err == nil && i < q.Retries && best.Others > q.MaxOthers; i++ {
		fmt.Fprintf(log, "  %s: other processes used %.0f%% of the CPU during the run; running it again\n", label, 100*best.Others)
		res, rerr := runPeer(ctx, argv, env, log, label)
		if rerr != nil {
			return best, nil
		}
		if res.Others < best.Others {
			best = res
		}
	}
	return best, err
}
