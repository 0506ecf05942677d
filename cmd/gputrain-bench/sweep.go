package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gputrain/gputrain/cmd/internal/cli"
)

// sweepBench measures what `gputrain sweep` is for: many book networks
// (η × seed) trained as one sweep against the same networks trained by
// `gputrain train` one after another, and two at a time (the naive way
// to use two cores), all end to end, process starts and data loading
// included, in interleaved rounds.
type sweepBench struct {
	bin, data, out    string
	networks, big     int
	epochs, rounds    int
	trainLimit        int
	etas              []string
	stdout, stderr    io.Writer
	starts            []float64 // one process's start with loading MNIST
	seq, pair, sw, bg []float64 // wall times
	// Training times, as the programs measure them: the sum of a train
	// run's epoch seconds (the longer stream's, two at a time), a sweep's
	// span from its first epoch's start to its last epoch's end.
	trSeq, trPair, trSw, trBg []float64
}

func runSweepBench(args []string, stdout, stderr io.Writer) error {
	s := &sweepBench{stdout: stdout, stderr: stderr, etas: []string{"0.5", "1", "2", "3"}}
	fs := cli.NewFlags("gputrain-bench sweep")
	fs.StringVar(&s.bin, "bin", "bin", "folder of the gputrain binary")
	fs.StringVar(&s.data, "data", "data/mnist", "folder of the MNIST files")
	fs.StringVar(&s.out, "out", "BENCHMARKS.md", "the markdown file whose sweep section is rewritten")
	fs.IntVar(&s.networks, "networks", 16, "networks of the compared sweep: 4 η values × networks/4 seeds")
	fs.IntVar(&s.big, "also", 64, "networks of a larger sweep, timed alone (0: none)")
	fs.IntVar(&s.epochs, "epochs", 3, "epochs of every network")
	fs.IntVar(&s.rounds, "rounds", 3, "rounds; each figure is the median")
	fs.IntVar(&s.trainLimit, "train-limit", 0, "train on the first N images (0: all 50,000)")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	if s.networks < 4 || s.networks%4 != 0 || s.big < 0 || s.big%4 != 0 || s.epochs < 1 || s.rounds < 1 {
		return cli.Usagef("--networks and --also: multiples of 4 (4 η values × seeds); --epochs, --rounds ≥ 1")
	}
	for r := range s.rounds {
		fmt.Fprintf(stderr, "sweep bench: round %d of %d\n", r+1, s.rounds)
		start, _, err := s.timeRun([]string{"train", "--epochs", "1", "--train-limit", "10", "--eval", "none"})
		if err != nil {
			return err
		}
		seq, trSeq, err := s.solo(1)
		if err != nil {
			return err
		}
		pair, trPair, err := s.solo(2)
		if err != nil {
			return err
		}
		sw, trSw, err := s.timeRun(s.sweepArgs(s.networks))
		if err != nil {
			return err
		}
		s.seq, s.pair, s.sw = append(s.seq, seq), append(s.pair, pair), append(s.sw, sw)
		s.trSeq, s.trPair, s.trSw = append(s.trSeq, trSeq), append(s.trPair, trPair), append(s.trSw, trSw)
		s.starts = append(s.starts, start)
		if s.big > 0 {
			bg, trBg, err := s.timeRun(s.sweepArgs(s.big))
			if err != nil {
				return err
			}
			s.bg, s.trBg = append(s.bg, bg), append(s.trBg, trBg)
		}
	}
	body := s.markdown(describeMachine("python3"))
	fmt.Fprint(stdout, body)
	return updateSection(s.out, "sweep", body)
}

func (s *sweepBench) common() []string {
	return []string{"--data", s.data, "--epochs", fmt.Sprint(s.epochs), "--eval", "none", "--quiet", "--train-limit", fmt.Sprint(s.trainLimit)}
}

func (s *sweepBench) sweepArgs(n int) []string {
	return append([]string{"sweep", "--eta", strings.Join(s.etas, ","), "--seed", fmt.Sprintf("1..%d", n/len(s.etas))}, s.common()...)
}

// solo trains the compared networks with `gputrain train`, at a time
// processes side by side, and returns the wall time and the training
// time of the longest stream of processes.
func (s *sweepBench) solo(at int) (float64, float64, error) {
	var jobs [][]string
	for seed := 1; seed <= s.networks/len(s.etas); seed++ {
		for _, eta := range s.etas {
			jobs = append(jobs, append([]string{"train", "--eta", eta, "--seed", fmt.Sprint(seed), "--log-format", "json"}, s.common()...))
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, at)
	train := make([]float64, at)
	for w := range at {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < len(jobs); k += at {
				_, tr, err := s.timeRun(jobs[k])
				if err != nil {
					errs[w] = err
					return
				}
				train[w] += tr
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, 0, err
		}
	}
	return time.Since(start).Seconds(), slices.Max(train), nil
}

// sweepTime is the training time a sweep reports on stderr.
var sweepTime = regexp.MustCompile(`(?m)^Time: \d+ networks, ([0-9.]+)s training`)

// timeRun runs gputrain with args and returns its wall time and its
// training time: a train run's epoch seconds (--log-format json) summed,
// or a sweep's own figure.
func (s *sweepBench) timeRun(args []string) (wall, train float64, err error) {
	cmd := exec.Command(filepath.Join(s.bin, "gputrain"), args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("gputrain %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	wall = time.Since(start).Seconds()
	if m := sweepTime.FindStringSubmatch(errb.String()); m != nil {
		train, _ = strconv.ParseFloat(m[1], 64)
		return wall, train, nil
	}
	for _, line := range strings.Split(out.String(), "\n") {
		var e struct{ Seconds float64 }
		if json.Unmarshal([]byte(line), &e) == nil {
			train += e.Seconds
		}
	}
	return wall, train, nil
}

func (s *sweepBench) markdown(machine string) string {
	seq, pair, sw, start := median(s.seq), median(s.pair), median(s.sw), median(s.starts)
	trSeq, trPair, trSw := median(s.trSeq), median(s.trPair), median(s.trSw)
	netEpochs := float64(s.networks * s.epochs)
	images := "50,000"
	if s.trainLimit > 0 {
		images = fmt.Sprint(s.trainLimit)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d book networks ([784,30,10], batch 10, float32; η ∈ {%s} × seeds 1–%d), %d epochs of %s images each, no evaluation; "+
		"wall time end to end, median of %d interleaved rounds. Each process starts and loads MNIST: one start "+
		"(`gputrain train --epochs 1 --train-limit 10`) takes %ss here. \"Training\" is what the programs measure of it: "+
		"the sum of a `train` run's epoch seconds (two at a time, the longer of the two streams'), a sweep's span from its first epoch's start to its last epoch's end (both leave out compiling the programs).\n\n", s.networks, strings.Join(s.etas, ", "), s.networks/len(s.etas), s.epochs, images, s.rounds, fmtSecs(start))
	fmt.Fprintf(&b, "| how | wall (s) | ÷ one after another | training (s) | ÷ one after another | training per network-epoch (s) |\n|---|---:|---:|---:|---:|---:|\n")
	row := func(how string, t, tr, n float64) {
		fmt.Fprintf(&b, "| %s | %s | %.2f | %s | %.2f | %s |\n", how, fmtSecs(t), t/seq, fmtSecs(tr), tr/trSeq, fmtSecs(tr/n))
	}
	row(fmt.Sprintf("`gputrain train` × %d, one after another", s.networks), seq, trSeq, netEpochs)
	row(fmt.Sprintf("`gputrain train` × %d, two processes at a time", s.networks), pair, trPair, netEpochs)
	row(fmt.Sprintf("`gputrain sweep`, %d networks", s.networks), sw, trSw, netEpochs)
	if len(s.bg) > 0 {
		row(fmt.Sprintf("`gputrain sweep`, %d networks", s.big), median(s.bg), median(s.trBg), float64(s.big*s.epochs))
	}
	fmt.Fprintf(&b, "\nTargets (issue 23), on the training time: the sweep in ≤ 0.4× the one-after-another time (measured %.2f×; %.2f× end to end), "+
		"and ≥ 1.3× faster than two processes at a time (measured %.2f×; %.2f× end to end).\n\n%s", trSw/trSeq, sw/seq, trPair/trSw, pair/sw, machine)
	return b.String()
}
