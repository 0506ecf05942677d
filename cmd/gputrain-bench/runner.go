package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gputrain/gputrain/cmd/internal/rss"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
)

// epochLine is one epoch as a program reports it. Programs may print more
// fields (gputrain adds cost, accuracy, eval_seconds); these are the ones
// every program shares.
type epochLine struct {
	Epoch   int      `json:"epoch"`
	Correct int      `json:"correct"`
	Total   int      `json:"total"`
	Seconds *float64 `json:"seconds"`
}

// parseEpochs reads every epoch line of a program's output, in order,
// calling each on each as it comes. A line that is not a JSON object (a
// stray log line) is skipped; a JSON object without "seconds", with a bad
// value, or out of order is an error, since it means the program and the
// driver disagree about the format.
func parseEpochs(r io.Reader, each func(epochLine)) ([]epochLine, error) {
	var out []epochLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var e epochLine
		err := json.Unmarshal([]byte(line), &e)
		switch {
		case err != nil:
			return out, fmt.Errorf("bad epoch line %q: %v", line, err)
		case e.Seconds == nil:
			return out, fmt.Errorf(`epoch line %q has no "seconds"`, line)
		case *e.Seconds < 0 || math.IsNaN(*e.Seconds) || math.IsInf(*e.Seconds, 0):
			return out, fmt.Errorf("epoch line %q: bad seconds %v", line, *e.Seconds)
		case e.Correct < 0 || e.Total < 0 || e.Correct > e.Total:
			return out, fmt.Errorf("epoch line %q: correct %d of total %d", line, e.Correct, e.Total)
		case len(out) > 0 && e.Epoch != out[len(out)-1].Epoch+1:
			return out, fmt.Errorf("epoch %d follows epoch %d", e.Epoch, out[len(out)-1].Epoch)
		}
		out = append(out, e)
		if each != nil {
			each(e)
		}
	}
	return out, sc.Err()
}

// runResult is what one process produced.
type runResult struct {
	Epochs  []epochLine
	PeakRSS int64 // bytes; 0 if the system does not say
	// Others is the share of the machine's CPU time that other processes
	// used while the program ran, 0..1, or -1 if unknown. This machine is
	// shared, and a run that competed for the cores is not a fair one.
	Others float64
}

// accuracies returns the evaluated epochs' accuracy, in [0,1].
func (r runResult) accuracies() []float64 {
	var acc []float64
	for _, e := range r.Epochs {
		if e.Total > 0 {
			acc = append(acc, float64(e.Correct)/float64(e.Total))
		}
	}
	return acc
}

// runProcess runs argv, reads its epoch lines as they come (echoing them
// to log so a long benchmark shows progress) and returns them with the
// process's peak RSS. A program that fails or reports no epoch is an error
// that quotes the end of its stderr.
func runProcess(argv, env []string, log io.Writer, label string) (runResult, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return runResult{}, err
	}
	before, statOK := readProcStat()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return runResult{}, fmt.Errorf("%s: %w", label, err)
	}
	epochs, perr := parseEpochs(out, func(e epochLine) {
		fmt.Fprintf(log, "  %s: epoch %d %.3fs %d/%d\n", label, e.Epoch, *e.Seconds, e.Correct, e.Total)
	})
	io.Copy(io.Discard, out) // after a bad line, so that the process is not blocked writing while we wait
	werr := cmd.Wait()
	res := runResult{Epochs: epochs, Others: -1, PeakRSS: rss.Of(cmd.ProcessState)}
	if after, ok := readProcStat(); ok && statOK {
		own := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
		res.Others = othersShare(before, after, own, time.Since(start).Seconds(), runtime.NumCPU())
	}
	tail := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	quote := strings.TrimRight("\n    "+strings.Join(tail[max(0, len(tail)-6):], "\n    "), " \n")
	switch {
	case werr != nil:
		return res, fmt.Errorf("%s: %v%s", label, werr, quote)
	case perr != nil:
		return res, fmt.Errorf("%s: %v", label, perr)
	case len(epochs) == 0:
		return res, fmt.Errorf("%s: reported no epoch%s", label, quote)
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
		for i, v := range f[1:min(len(f), 9)] {
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
	b, _ := os.ReadFile("/proc/stat") // none: no cpu line, so not ok
	return parseProcStat(string(b))
}

// othersShare is the share of all cores' time, over a run of wall
// seconds, that went to work other than the program's own ownCPU seconds.
func othersShare(before, after cpuTimes, ownCPU, wall float64, cores int) float64 {
	total := float64(after.total - before.total)
	if total <= 0 || wall <= 0 || cores < 1 {
		return -1
	}
	share := float64(after.busy-before.busy)/total - ownCPU/(wall*float64(cores))
	return max(0, min(1, share))
}

// median of xs (the mean of the middle two for an even count); NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

// setting is one program at one set of training flags.
type setting struct {
	prog  program
	args  trainflags.Peer
	label string
	env   []string // the process's environment; nil: this one's
}

// result is what a setting's processes produced: a run per round, until
// one failed with err; missing says why its program cannot run here.
type result struct {
	setting
	runs    []runResult
	missing string
	err     error
}

func (r result) ok() bool { return r.missing == "" && r.err == nil }

// perEpoch is the median and the least of the epochs' seconds over every
// run, scaled from the images it trained on to full images.
func (r result) perEpoch(full int) (med, least float64) {
	var s []float64
	for _, run := range r.runs {
		for _, e := range run.Epochs {
			s = append(s, *e.Seconds*float64(full)/float64(cmp.Or(r.args.TrainLimit, fullEpoch)))
		}
	}
	return median(s), slices.Min(s)
}

// worst is the largest peak RSS and share of the CPU taken by others over
// the runs.
func (r result) worst() (rss int64, others float64) {
	others = -1
	for _, run := range r.runs {
		rss, others = max(rss, run.PeakRSS), max(others, run.Others)
	}
	return rss, others
}

// bench is what the commands share: where the programs are, how each
// runs, and where the results go.
type bench struct {
	tools
	rounds   int
	parallel int // processes at a time: 1 for timing, more when only accuracy counts
	quiet    quietPolicy
	out      string
	log      io.Writer
}

// timingFlags adds the flags of commands that time programs.
func (b *bench) timingFlags(fs *flag.FlagSet, what string) {
	fs.IntVar(&b.rounds, "rounds", 2, "how many times each program runs"+what+", in turn with the others")
	fs.Float64Var(&b.quiet.MaxOthers, "max-others", 0.15, "rerun a program when other processes took more than this share of the CPU during its run")
	fs.IntVar(&b.quiet.Retries, "retries", 2, "reruns at most per program")
}

// run runs the settings: every one once a round, in turn with the
// others, so that a slow spell of this shared machine falls on all of
// them rather than on whichever ran through it. A setting whose program
// cannot run here is skipped, and one that fails is not run again; no
// other loses its numbers by it.
func (b *bench) run(settings []setting) []result {
	results := make([]result, len(settings))
	missing := b.availability()
	for i, s := range settings {
		results[i] = result{setting: s, missing: missing[s.prog.needs]}
	}
	var mu sync.Mutex // one progress line at a time
	log := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return b.log.Write(p) })
	sem := make(chan struct{}, max(1, b.parallel))
	for round := 1; round <= b.rounds; round++ {
		var wg sync.WaitGroup
		for i := range results {
			if r := &results[i]; r.ok() {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					label := r.label
					if b.rounds > 1 {
						label += fmt.Sprintf(" (round %d of %d)", round, b.rounds)
					}
					res, err := b.quiet.run(r.setting, log, label)
					if r.err = err; err != nil {
						fmt.Fprintln(log, err)
						return
					}
					r.runs = append(r.runs, res)
				})
			}
		}
		wg.Wait()
	}
	return results
}

// writerFunc is an io.Writer made of a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// skippedList is the markdown list of what the results lack and why,
// each reason once, then the notes.
func skippedList(results []result, notes ...string) string {
	var out []string
	for _, r := range results {
		line := r.prog.name + ": " + r.missing
		if r.err != nil {
			line = fmt.Sprintf("%s: failed: %v", r.prog.name, r.err)
		}
		if !r.ok() && !slices.Contains(out, line) {
			out = append(out, line)
		}
	}
	if out = append(out, notes...); len(out) == 0 {
		return ""
	}
	return "\nSkipped:\n\n- " + strings.ReplaceAll(strings.Join(out, "\n- "), "\n    ", " ") + "\n"
}

// write prints body and puts it, with the other sections given as
// name, body pairs, into the markdown file, unless there is none.
func (b *bench) write(stdout io.Writer, body string, sections ...string) error {
	fmt.Fprint(stdout, body)
	for i := 0; b.out != "" && i+1 < len(sections); i += 2 {
		if err := updateSection(b.out, sections[i], sections[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// quietPolicy says when a run was disturbed enough by other processes to
// be run again.
type quietPolicy struct {
	MaxOthers float64 // rerun when others used more than this share of the CPU
	Retries   int     // at most this many reruns
}

// run runs a setting, and again while other processes took more than
// MaxOthers of the CPU during its run, up to Retries times; it keeps the
// least disturbed run.
func (q quietPolicy) run(s setting, log io.Writer, label string) (runResult, error) {
	argv := s.prog.argv(s.args)
	best, err := runProcess(argv, s.env, log, label)
	for i := 0; err == nil && i < q.Retries && best.Others > q.MaxOthers; i++ {
		fmt.Fprintf(log, "  %s: other processes used %.0f%% of the CPU during the run; running it again\n", label, 100*best.Others)
		if res, err := runProcess(argv, s.env, log, label); err == nil && res.Others < best.Others {
			best = res
		}
	}
	return best, err
}
