package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/graph/train"
)

// Chapter 6: the book's convolutional networks (network3.py) as issue 24's
// command lines, for `reproduce-ch6` (accuracy) and `conv` (speed against
// PyTorch). Both need gputrain's --layers.

// The layer stacks of issue 24's commands.
const (
	shallowLayers = "conv:20x5x5,pool:2,fc:100,softmax:10"
	twoConvLayers = "conv:20x5x5,pool:2,conv:40x5x5,pool:2,fc:100,softmax:10"
	reluLayers    = "conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:100:relu,softmax:10"
	lastLayers    = "conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:1000:relu:dropout=0.5,fc:1000:relu:dropout=0.5,softmax:10:dropout=0.5"
)

// ch6Net is one row of issue 24's accuracy table: its gputrain train
// flags (the command but --epochs), the book's epochs and figure,
// the target for the test accuracy at the epoch of best
// validation accuracy, and, for the ensemble, how many networks vote.
type ch6Net struct {
	id, name string
	flags    []string
	epochs   int
	book     string
	target   float64
	members  int  // an ensemble of this many seeds' networks; 0: one network
	cpu      bool // in make reproduce-ch6's default rows; the rest are the GPU kit's
}

var ch6Nets = []ch6Net{
	{"shallow", "shallow conv", []string{"--layers", shallowLayers, "--eta", "0.1"}, 60, "98.78", 0.986, 0, true},
	{"two-conv", "two conv", []string{"--layers", twoConvLayers, "--eta", "0.1"}, 60, "99.06", 0.989, 0, false},
	{"relu", "ReLU, η 0.03, λ 0.1, two conv", []string{"--layers", reluLayers, "--eta", "0.03", "--lambda", "0.1"}, 60, "99.23", 0.991, 0, true},
	{"expanded", "expanded data", []string{"--layers", reluLayers, "--eta", "0.03", "--lambda", "0.1", "--train-set", "expanded"}, 60, "99.37", 0.992, 0, false},
	{"dropout", "dropout, 40 epochs", []string{"--layers", lastLayers, "--eta", "0.03", "--train-set", "expanded"}, 40, "99.60", 0.9945, 0, false},
	{"ensemble", "5-network ensemble", []string{"--layers", lastLayers, "--eta", "0.03", "--train-set", "expanded"}, 40, "99.67", 0.9955, 5, false},
}

func ch6IDs() []string {
	var ids []string
	for _, n := range ch6Nets {
		ids = append(ids, n.id)
	}
	return ids
}

func ch6ByID(id string) ch6Net {
	return ch6Nets[slices.IndexFunc(ch6Nets, func(n ch6Net) bool { return n.id == id })]
}

// layersMissing says why the gputrain binary at path cannot train chapter
// 6's networks ("" when it can): its train command has no --layers flag.
func layersMissing(path string) string {
	out, _ := exec.Command(path, "train", "-h").CombinedOutput()
	if strings.Contains(string(out), "-layers") {
		return ""
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Sprintf("no gputrain at %s (make build)", path)
	}
	return fmt.Sprintf("gputrain --layers not available: %s train has no --layers flag (chapter 6's layers, issue 24, are not in this build)", path)
}

// bestValidation is network3's report on a run from its epoch lines:
// the test accuracy at the epoch of best validation accuracy (the later
// of equals), with the epoch; ok false when no line has both counts.
// gputrain train --log-format json prints the test count as correct/total
// and the validation count as other_correct/other_total.
func bestValidation(epochs []epochLine) (test float64, epoch int, ok bool) {
	var bestValid float64
	for _, e := range epochs {
		if e.OtherTotal == 0 || e.Total == 0 {
			continue
		}
		if v := float64(e.OtherCorrect) / float64(e.OtherTotal); !ok || v >= bestValid {
			bestValid, test, epoch, ok = v, float64(e.Correct)/float64(e.Total), e.Epoch, true
		}
	}
	return test, epoch, ok
}

// ch6Opts are reproduce-ch6's own flags.
type ch6Opts struct {
	nets       []string
	seeds      cli.IntList
	epochs     int // 0: each network's book epochs
	trainLimit int
	device     string
	section    string
}

func runReproduceCh6(args []string, stdout, stderr io.Writer) error {
	b := &bench{rounds: 1, log: stderr}
	fs := cli.NewFlags("gputrain-bench reproduce-ch6")
	b.register(fs, "the markdown file whose --section is rewritten")
	o := ch6Opts{seeds: cli.IntList{1}}
	nets := fs.String("nets", "shallow,relu", "the networks to train, comma-separated: "+strings.Join(ch6IDs(), ", "))
	fs.Var(&o.seeds, "seeds", "seeds, one run of each network per seed (a spread, not a pick: every seed is reported)")
	fs.IntVar(&o.epochs, "epochs", 0, "epochs per run (0: the book's, 60 or 40)")
	fs.IntVar(&o.trainLimit, "train-limit", 0, "train on the first N images only (0: all; for trying the harness)")
	fs.StringVar(&o.device, "device", "cpu", "cpu, or cuda (the GPU kit: the CUDA build, --cuda-bin)")
	fs.StringVar(&o.section, "section", "reproduce-ch6", "the section of --out that the table replaces (<!-- bench:NAME -->)")
	fs.IntVar(&b.parallel, "jobs", 1, "runs at a time")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	ids, _, err := parseSpec(*nets, ch6IDs(), false)
	switch {
	case err != nil:
		return cli.Usagef("--nets: %v", err)
	case len(ids) == 0 || len(o.seeds) == 0 || b.parallel < 1:
		return cli.Usagef("--nets, --seeds and --jobs need at least one")
	case o.epochs < 0 || o.trainLimit < 0:
		return cli.Usagef("--epochs and --train-limit: 0 or more")
	case o.device != "cpu" && o.device != "cuda":
		return cli.Usagef("--device %q: want cpu or cuda", o.device)
	}
	o.nets = ids
	if err := b.check(); err != nil {
		return err
	}
	bin := filepath.Join(b.bin, "gputrain")
	if o.device == "cuda" {
		bin = b.cuda()
	}
	if why := layersMissing(bin); why != "" {
		return fmt.Errorf("%s: nothing run", why)
	}
	dir, err := os.MkdirTemp("", "gputrain-ch6-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	results := b.run(o.settings(b, bin, dir))
	for _, r := range results {
		if r.err != nil {
			return r.err
		}
	}
	ensembles, err := o.ensembles(bin, b.data, dir, results)
	if err != nil {
		return err
	}
	body := o.markdown(results, ensembles)
	return b.write(stdout, body, o.section, body)
}

// settings are a run per network and seed (an ensemble's members: a run
// per member, seeds one after another from each seed), each saving its
// model into dir for the ensembles.
func (o ch6Opts) settings(b *bench, bin, dir string) []setting {
	var out []setting
	for _, id := range o.nets {
		n := ch6ByID(id)
		for _, seed := range o.seeds {
			for m := range max(1, n.members) {
				s := seed + m
				if n.members > 0 {
					s = seed*n.members + m // members of different seeds' ensembles never share a seed
				}
				argv := slices.Concat([]string{bin, "train", "--log-format", "json", "--quiet", "--data", b.data, "--device", o.device,
					"--epochs", strconv.Itoa(cmp.Or(o.epochs, n.epochs)), "--seed", strconv.Itoa(s),
					"--train-limit", strconv.Itoa(o.trainLimit), "--save", filepath.Join(dir, fmt.Sprintf("%s-%d-%d.json", id, seed, m))}, n.flags)
				out = append(out, setting{prog: program{id: id, name: n.name}, argv: argv,
					args:  trainflags.Peer{Config: train.Config{Seed: uint64(seed), TrainLimit: o.trainLimit}},
					label: fmt.Sprintf("%s seed %d", id, s)})
			}
		}
	}
	return out
}

// ensembles evaluates each ensemble row's members together on the test
// set (gputrain eval's majority vote), by network id and seed.
func (o ch6Opts) ensembles(bin, data, dir string, results []result) (map[string]float64, error) {
	acc := map[string]float64{}
	for _, id := range o.nets {
		n := ch6ByID(id)
		if n.members == 0 {
			continue
		}
		for _, seed := range o.seeds {
			var models []string
			for m := range n.members {
				models = append(models, filepath.Join(dir, fmt.Sprintf("%s-%d-%d.json", id, seed, m)))
			}
			out, err := exec.Command(bin, "eval", "--data", data, "--device", o.device, "--json", "--model", strings.Join(models, ",")).Output()
			var r struct{ Accuracy float64 }
			if err == nil {
				err = json.Unmarshal(out, &r)
			}
			if err != nil {
				return nil, fmt.Errorf("%s seed %d: gputrain eval of its %d networks: %v", id, seed, n.members, err)
			}
			acc[fmt.Sprintf("%s %d", id, seed)] = r.Accuracy
		}
	}
	return acc, nil
}

// markdown is the chapter 6 table: per network the book's figure, the
// target, each seed's test accuracy at its epoch of best validation
// accuracy (an ensemble's: its vote after the last epoch), and whether the
// best of them meets the target.
func (o ch6Opts) markdown(results []result, ensembles map[string]float64) string {
	var rows [][]string
	for _, id := range o.nets {
		n := ch6ByID(id)
		var cells []string
		best, secs := -1.0, []float64{}
		for _, seed := range o.seeds {
			if n.members > 0 {
				a := ensembles[fmt.Sprintf("%s %d", id, seed)]
				cells, best = append(cells, fmt.Sprintf("%s (seed %d, vote of %d)", pct(a), seed, n.members)), max(best, a)
			}
			for _, r := range results {
				if r.prog.id != id || r.args.Seed != uint64(seed) || len(r.runs) == 0 {
					continue
				}
				for _, e := range r.runs[0].Epochs {
					secs = append(secs, *e.Seconds)
				}
				if test, at, ok := bestValidation(r.runs[0].Epochs); ok && n.members == 0 {
					cells, best = append(cells, fmt.Sprintf("%s (seed %d, epoch %d)", pct(test), seed, at)), max(best, test)
				}
			}
		}
		met := ch6Met(best >= n.target, o.epochs, n.epochs, o.trainLimit)
		rows = append(rows, []string{n.name, "`gputrain train " + strings.Join(n.flags, " ") + fmt.Sprintf(" --epochs %d`", n.epochs),
			n.book, "≥ " + pct(n.target), cmp.Or(strings.Join(cells, ", "), "—"), met, fmtSecs(median(secs))})
	}
	where := "the CPU (make reproduce-ch6)"
	if o.device == "cuda" {
		where = "the GPU (the GPU kit's reproduce-ch6 part)"
	}
	epochs := "the book's epochs"
	if o.epochs != 0 {
		epochs = fmt.Sprintf("%d epochs", o.epochs)
	}
	images := "the full training set"
	if o.trainLimit != 0 {
		images = fmt.Sprintf("the first %d training images", o.trainLimit)
	}
	return fmt.Sprintf("Chapter 6's networks on %s: %s, mini-batch 10, %s, seeds %s. The accuracy is network3's report: "+
		"the test accuracy at the epoch of best validation accuracy (an ensemble's: the majority vote of its networks after their last epoch, "+
		"gputrain eval). The target is issue 24's for the best seed.\n\n", where, epochs, images, o.seeds.String()) +
		table([]string{"network", "command", "book", "target", "test accuracy at best validation", "met", "s/epoch median"}, "lllrlrr", rows)
}

// ch6Met is the table's verdict on a network's target: yes or no for the
// book's run, and for one of fewer epochs (the target reached sooner is
// reached); none for more epochs than the book's or a part of the
// training set, which would not be the book's experiment.
func ch6Met(reached bool, epochs, bookEpochs, trainLimit int) string {
	switch {
	case trainLimit != 0:
		return "— (part of the training set)"
	case epochs > bookEpochs:
		return "— (more epochs than the book's)"
	case !reached:
		return "no"
	case epochs != 0 && epochs < bookEpochs:
		return fmt.Sprintf("yes, in %d of the book's %d epochs", epochs, bookEpochs)
	}
	return "yes"
}
