package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// readmeSample is a command the README shows with the output it prints.
type readmeSample struct {
	line   int      // of the output block in README.md
	args   []string // after "gputrain"
	output []string
}

// readmeSamples finds, in README.md, each ```sh block whose last gputrain
// command is train or predict and the plain ``` block right after it: the
// command and what it printed.
func readmeSamples(t *testing.T) []readmeSample {
	f, err := os.Open(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var samples []readmeSample
	var args []string // the last train or predict command of the last sh block
	var block []string
	lang, in, start, n := "", false, 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if !in {
				in, lang, block, start = true, strings.TrimPrefix(line, "```"), nil, n
				continue
			}
			in = false
			switch lang {
			case "sh":
				args = nil
				for _, l := range block {
					l, _, _ = strings.Cut(l, "#")
					fields := strings.Fields(l)
					for _, cmd := range [][]string{{"go", "run", "./cmd/gputrain"}, {"bin/gputrain"}} {
						if len(fields) > len(cmd) && strings.Join(fields[:len(cmd)], " ") == strings.Join(cmd, " ") &&
							(fields[len(cmd)] == "train" || fields[len(cmd)] == "predict") {
							args = fields[len(cmd):]
						}
					}
				}
			case "":
				if args != nil {
					samples = append(samples, readmeSample{start + 1, args, block})
				}
				args = nil
			default:
				args = nil
			}
			continue
		}
		if in {
			block = append(block, line)
		}
	}
	return samples
}

// times are the parts of a line that differ from run to run.
var times = regexp.MustCompile(`\d+(\.\d+)?s\b|\d+m\d+s\b`)

// matchSample reports whether got, a run's lines, shows the README's
// sample want, where "..." stands for any lines and times may differ.
func matchSample(want, got []string) bool {
	norm := func(s string) string { return times.ReplaceAllString(s, "T") }
	i := 0
	skip := false
	for _, w := range want {
		if w == "..." {
			skip = true
			continue
		}
		for skip && i < len(got) && norm(got[i]) != norm(w) {
			i++
		}
		if i >= len(got) || norm(got[i]) != norm(w) {
			return false
		}
		i, skip = i+1, false
	}
	return skip || i == len(got)
}

// TestREADMESamples runs each command the README shows output for, as
// written (MNIST from the test data), and holds the README's lines to what
// it prints: the epoch counts of the book's seed, the summary, the
// prediction of docs/drawn-3.png. The counts are those of amd64, whose
// kernels fix the order of the float32 sums.
func TestREADMESamples(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the README's counts are amd64's")
	}
	data, err := filepath.Abs(dataDir(t))
	if err != nil {
		t.Fatal(err)
	}
	drawing, err := os.ReadFile(filepath.Join("..", "..", "docs", "drawn-3.png"))
	if err != nil {
		t.Fatal(err)
	}
	samples := readmeSamples(t)
	if len(samples) < 3 {
		t.Fatalf("found %d samples in README.md, want the two training runs and the prediction", len(samples))
	}
	t.Chdir(t.TempDir()) // where the commands write model.json and the rest
	os.Mkdir("docs", 0o755)
	os.WriteFile(filepath.Join("docs", "drawn-3.png"), drawing, 0o644)
	for _, s := range samples {
		args := append([]string(nil), s.args...)
		if args[0] == "train" {
			args = append(args, "--data", data, "--quiet")
		}
		code, out, errs := runCLI(args...)
		if code != 0 {
			t.Fatalf("README.md:%d: gputrain %s: exit %d: %s", s.line, strings.Join(s.args, " "), code, errs)
		}
		got := strings.Split(strings.TrimSuffix(out+errs, "\n"), "\n")
		if !matchSample(s.output, got) {
			t.Errorf("README.md:%d: gputrain %s shows\n%s\nbut prints\n%s", s.line, strings.Join(s.args, " "),
				strings.Join(s.output, "\n"), strings.Join(got, "\n"))
		}
	}
}

func TestMatchSample(t *testing.T) {
	t.Parallel()
	got := []string{"Epoch 0: 9098 / 10000 (0.29s)", "Epoch 1: 9253 / 10000 (0.28s)", "Epoch 2: 9316 / 10000 (0.3s)", "Time: 3 epochs, 1m05s training"}
	cases := []struct {
		want []string
		ok   bool
	}{
		{[]string{"Epoch 0: 9098 / 10000 (0.14s)", "...", "Time: 3 epochs, 4.1s training"}, true},
		{[]string{"Epoch 0: 9098 / 10000 (0.14s)", "Epoch 1: 9253 / 10000 (0.13s)", "..."}, true},
		{[]string{"Epoch 0: 9081 / 10000 (0.14s)", "..."}, false},
		{[]string{"Epoch 0: 9098 / 10000 (0.14s)", "Epoch 2: 9316 / 10000 (0.13s)", "..."}, false},
		{[]string{"Epoch 0: 9098 / 10000 (0.14s)", "Epoch 1: 9253 / 10000 (0.13s)"}, false},
		{[]string{"...", "Epoch 2: 9316 / 10000 (0.13s)", "...", "Time: 3 epochs, 7s training"}, true},
	}
	for i, c := range cases {
		if matchSample(c.want, got) != c.ok {
			t.Errorf("case %d: matchSample(%q) = %v", i, c.want, !c.ok)
		}
	}
}
