package main

import (
	"cmp"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/trainflags"
)

// program is one trainer the benchmark runs: a process that takes
// gputrain's training flags and prints a JSON line per epoch.
// Its id is the name --epochs, --only and --peers use; name is the tables'
// label; needs says what it needs besides itself (a key of availability's
// map, or ""); its command line is cmd, then the training flags.
type program struct {
	id, name, needs string
	cmd             []string
}

func (p program) argv(a trainflags.Peer) []string { return slices.Concat(p.cmd, flagArgs(a)) }

// tools are where the programs are found; every command takes their flags.
type tools struct{ bin, cudaBin, python, scripts, data string }

// cuda is the CUDA build of gputrain.
func (t tools) cuda() string { return cmp.Or(t.cudaBin, filepath.Join(t.bin, "gputrain-cuda")) }

// flagArgs is the command line of a's flags, which every program takes.
func flagArgs(a trainflags.Peer) []string {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	a.Register(fs)
	var args []string
	fs.VisitAll(func(f *flag.Flag) {
		switch v := f.Value.String(); {
		case v == "" || v == "false":
		case v == "true":
			args = append(args, "--"+f.Name) // a bool flag; Python's argparse takes no value for one
		default:
			args = append(args, "--"+f.Name, v)
		}
	})
	return args
}

// programs lists every program, in the tables' order.
func (t tools) programs() []program {
	py := func(script string, extra ...string) []string {
		return append([]string{t.python, filepath.Join(t.scripts, script)}, extra...)
	}
	gputrain := []string{filepath.Join(t.bin, "gputrain"), "train", "--log-format", "json", "--quiet"}
	return []program{
		{"gputrain", "gputrain CPU", "", gputrain},
		{"gputrain-cuda", "gputrain CUDA", "cuda", slices.Concat([]string{t.cuda()}, gputrain[1:], []string{"--device", "cuda"})},
		{"network.py", "book's network.py (numpy, per sample)", "numpy", py("network.py")},
		{"batched-numpy", "batched numpy", "numpy", py("batched_numpy.py")},
		{"torch-autograd", "PyTorch CPU, autograd", "torch", py("torch_sgd.py", "--grad", "autograd")},
		{"torch-explicit", "PyTorch CPU, explicit backprop", "torch", py("torch_sgd.py", "--grad", "explicit")},
		{"tapemachine", "Gorgonia TapeMachine", "tapemachine", []string{filepath.Join(t.bin, "gputrain-tapemachine")}},
		{"gomlx", "GoMLX, simplego backend", "gomlx", []string{filepath.Join(t.bin, "gputrain-gomlx")}},
	}
}

// program returns the program called id, one of ids().
func (t tools) program(id string) program {
	ps := t.programs()
	return ps[slices.IndexFunc(ps, func(p program) bool { return p.id == id })]
}

// ids lists every program's id.
func (t tools) ids() []string {
	var ids []string
	for _, p := range t.programs() {
		ids = append(ids, p.id)
	}
	return ids
}

// availability says, for each need, why it is not met here; a need that
// is met is absent.
func (t tools) availability() map[string]string {
	missing := map[string]string{}
	for _, mod := range []string{"numpy", "torch"} {
		if command(nil, t.python, "-c", "import "+mod+"; print(1)") != "1" {
			missing[mod] = fmt.Sprintf("%s cannot import %s (apt-get install python3-%s)", t.python, mod, mod)
		}
	}
	for need, bin := range map[string]string{"tapemachine": "gputrain-tapemachine", "gomlx": "gputrain-gomlx"} {
		if _, err := os.Stat(filepath.Join(t.bin, bin)); err != nil {
			missing[need] = fmt.Sprintf("no %s in %s (make bench builds it from cmd/gputrain-bench/peers/%s; its output says why a build failed)",
				bin, t.bin, need)
		}
	}
	if why := layersMissing(filepath.Join(t.bin, "gputrain")); why != "" {
		missing["layers"] = why
	}
	if command(nil, "nvidia-smi", "-L") == "" {
		missing["cuda"] = "no NVIDIA GPU (nvidia-smi lists none)"
	} else if _, err := os.Stat(t.cuda()); err != nil {
		missing["cuda"] = fmt.Sprintf("no CUDA build of gputrain at %s (make cuda, or pass --cuda-bin)", t.cuda())
	}
	return missing
}

// xlaNote is why GoMLX has no XLA row.
const xlaNote = "GoMLX on XLA: not available offline (XLA needs its PJRT C++ plugin and libraries, which GoMLX fetches " +
	"from the network; the peer is built with simplego alone)"

// parseSpec reads a comma-separated list of program ids, each one of
// known, and of id=N when withN, N at least 1: the ids in order and the N
// of each.
func parseSpec(spec string, known []string, withN bool) (ids []string, n map[string]int, err error) {
	n = map[string]int{}
	for _, f := range strings.Split(spec, ",") {
		id, v, hasN := strings.Cut(strings.TrimSpace(f), "=")
		switch {
		case id == "":
			continue
		case !slices.Contains(known, id):
			return nil, nil, fmt.Errorf("unknown program %q (known: %s)", id, strings.Join(known, ", "))
		case hasN != withN:
			return nil, nil, fmt.Errorf("%q: want %s", f, map[bool]string{true: "id=N", false: "an id alone"}[withN])
		}
		ids = append(ids, id)
		if n[id], err = strconv.Atoi(v); withN && (err != nil || n[id] < 1) {
			return nil, nil, fmt.Errorf("%q: want a whole number ≥ 1", f)
		}
	}
	return ids, n, nil
}

// fmtSecs prints seconds with three significant digits (at most four
// decimals) and no exponent.
func fmtSecs(s float64) string {
	return strconv.FormatFloat(s, 'f', max(0, min(4, 2-int(math.Floor(math.Log10(max(s, 1e-9)))))), 64)
}

// fmtShare prints a share of the CPU as a percentage, "?" when unknown.
func fmtShare(x float64) string {
	if x < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f %%", 100*x)
}
