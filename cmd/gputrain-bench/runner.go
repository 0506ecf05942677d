package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/rss"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/internal/safefile"
)

// epochLine is one epoch as a program reports it. Programs may print more
// fields (gputrain adds cost, accuracy, eval_seconds); these are the ones
// every program shares.
type epochLine struct {
	Epoch   int      `json:"epoch"`
	Correct int      `json:"correct"`
	Total   int      `json:"total"`
	Seconds *float64 `json:"seconds"`
	// The mean training cost, and gputrain's count on the other held-out
	// set (validation beside test): 0 from programs that do not print them.
	Cost         float64 `json:"cost"`
	OtherCorrect int     `json:"other_correct"`
	OtherTotal   int     `json:"other_total"`
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
		each(e)
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
func runProcess(argv, env []string, logf func(string, ...any), label string) (runResult, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Stderr = env, &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return runResult{}, err
	}
	before, statOK := parseProcStat(readFile("/proc/stat"))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return runResult{}, fmt.Errorf("%s: %w", label, err)
	}
	epochs, perr := parseEpochs(out, func(e epochLine) {
		logf("  %s: epoch %d %.3fs %d/%d", label, e.Epoch, *e.Seconds, e.Correct, e.Total)
	})
	io.Copy(io.Discard, out) // after a bad line, so that the process is not blocked writing while we wait
	werr := cmd.Wait()
	res := runResult{Epochs: epochs, Others: -1, PeakRSS: rss.Of(cmd.ProcessState)}
	if after, ok := parseProcStat(readFile("/proc/stat")); ok && statOK {
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

// parseProcStat reads the aggregate "cpu" line of /proc/stat, its first:
// user, nice, system, idle, iowait, irq, softirq, steal (guest time is
// already inside user). Idle and iowait are the only fields that are not work.
func parseProcStat(text string) (t cpuTimes, ok bool) {
	var v [8]uint64
	rest, ok := strings.CutPrefix(text, "cpu ")
	if n, _ := fmt.Sscan(rest, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]); !ok || n < 5 {
		return t, false
	}
	for i, x := range v {
		t.total += x
		if i != 3 && i != 4 {
			t.busy += x
		}
	}
	return t, true
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
	extra []string // flags beyond the shared ones (gputrain's chapter-3 settings)
	label string
	env   []string // the process's environment; nil: this one's
	argv  []string // the whole command line, instead of prog's with args' flags (chapter 6's runs)
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
	rounds    int
	parallel  int     // processes at a time: 1 for timing, more when only accuracy counts
	maxOthers float64 // rerun a process when others took more than this share of the CPU …
	retries   int     // … up to this many times
	out       string
	log       io.Writer
}

// check makes sure, before anything runs, that gputrain is there and the
// results can be written.
func (b *bench) check(files ...string) error {
	if b.rounds < 1 {
		return cli.Usagef("--rounds %d: must be at least 1", b.rounds)
	}
	if _, err := os.Stat(filepath.Join(b.bin, "gputrain")); err != nil {
		return cli.Usagef("--bin: %v (make build)", err)
	}
	for _, f := range append(files, b.out) {
		if err := safefile.CheckWritable(f); f != "" && err != nil {
			return cli.Usagef("%v", err)
		}
	}
	return nil
}

// timingFlags adds the flags of commands that time programs.
func (b *bench) timingFlags(fs *flag.FlagSet, what string) {
	fs.IntVar(&b.rounds, "rounds", 2, "how many times each program runs"+what+", in turn with the others")
	fs.Float64Var(&b.maxOthers, "max-others", 0.15, "rerun a program when other processes took more than this share of the CPU during its run")
	fs.IntVar(&b.retries, "retries", 2, "reruns at most per program")
}

// register adds the flags every command takes: the tools' and --out, the
// markdown file, with out its usage (which sections the command rewrites).
func (b *bench) register(fs *flag.FlagSet, out string) {
	fs.StringVar(&b.out, "out", "BENCHMARKS.md", out)
	fs.StringVar(&b.bin, "bin", "bin", "directory of gputrain and the Go peers (gputrain-tapemachine, gputrain-gomlx)")
	fs.StringVar(&b.cudaBin, "cuda-bin", "", "a CUDA build of gputrain (default: gputrain-cuda in --bin)")
	fs.StringVar(&b.python, "python", "/usr/bin/python3", "the Python with numpy and torch")
	fs.StringVar(&b.scripts, "scripts", "cmd/gputrain-bench/peers", "directory of the Python peers")
	fs.StringVar(&b.data, "data", "data/mnist", "directory of the MNIST files")
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
	logf := log.New(b.log, "", 0).Printf // whole lines, from processes side by side
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
					// Rerun while other processes took too much of the
					// CPU, keeping the least disturbed run.
					argv := slices.Concat(r.prog.argv(r.args), r.extra)
					if r.argv != nil {
						argv = r.argv
					}
					res, err := runProcess(argv, r.env, logf, label)
					for k := 0; err == nil && k < b.retries && res.Others > b.maxOthers; k++ {
						logf("  %s: other processes used %.0f%% of the CPU during the run; running it again", label, 100*res.Others)
						if again, err := runProcess(argv, r.env, logf, label); err == nil && again.Others < res.Others {
							res = again
						}
					}
					if r.err = err; err != nil {
						logf("%v", err)
					} else {
						r.runs = append(r.runs, res)
					}
				})
			}
		}
		wg.Wait()
	}
	return results
}

// skippedList is the markdown list of what the results lack and why,
// each reason once; GoMLX's backend that cannot run here is among them.
func skippedList(results []result) string {
	var out []string
	add := func(line string) {
		if !slices.Contains(out, line) {
			out = append(out, line)
		}
	}
	for _, r := range results {
		switch {
		case r.missing != "":
			add(r.prog.name + ": " + r.missing)
		case r.err != nil:
			add(fmt.Sprintf("%s: failed: %v", r.prog.name, r.err))
		}
		if r.prog.id == "gomlx" {
			add(xlaNote)
		}
	}
	if len(out) == 0 {
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

// replaceSection returns doc with the text between section name's markers,
// <!-- bench:NAME --> and <!-- /bench:NAME -->, replaced by body. A
// document without the section gets it appended, so a fresh BENCHMARKS.md
// fills up section by section; a marker without its partner, or out of
// order, is an error rather than a guess that could swallow hand-written
// prose.
func replaceSection(doc, name, body string) (string, error) {
	begin, end := "<!-- bench:"+name+" -->", "<!-- /bench:"+name+" -->"
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	body = strings.Trim(body, "\n")
	switch {
	case i < 0 && j < 0:
		return strings.TrimLeft(strings.TrimRight(doc, "\n")+"\n\n", "\n") + begin + "\n" + body + "\n" + end + "\n", nil
	case i < 0 || j < 0:
		return "", fmt.Errorf("section %q has only one of its markers %s and %s", name, begin, end)
	case j < i:
		return "", fmt.Errorf("section %q: %s comes before %s", name, end, begin)
	case strings.Count(doc, begin) > 1 || strings.Count(doc, end) > 1:
		return "", fmt.Errorf("section %q: its markers appear more than once", name)
	}
	return doc[:i+len(begin)] + "\n" + body + "\n" + doc[j:], nil
}

// updateSection rewrites one section of the markdown file at path,
// creating the file if it does not exist. The write goes through a
// temporary file and a rename so that an interrupted run leaves the old
// file whole.
func updateSection(path, name, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	doc, err := replaceSection(cmp.Or(string(old), "# Benchmarks\n"), name, body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return safefile.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := io.WriteString(w, doc)
		return err
	})
}

// table renders a markdown table; align holds one of 'l' or 'r' per column.
func table(header []string, align string, rows [][]string) string {
	sep := make([]string, len(header))
	for i := range header {
		sep[i] = map[bool]string{false: "---", true: "---:"}[i < len(align) && align[i] == 'r']
	}
	var b strings.Builder
	for _, r := range slices.Concat([][]string{header, sep}, rows) {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}
