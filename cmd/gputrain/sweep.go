package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/sweep"
)

// maxSweep bounds a sweep's networks (and a range's values): a typing slip
// in a range must not start a million runs.
const maxSweep = 100_000

// sweepCmd is `gputrain sweep`: many networks trained on one data set,
// each exactly as `gputrain train` with its settings would.
type sweepCmd struct {
	axes     sweep.Axes
	gridFile string
	// base is what every network shares (Setting.Config makes each one's
	// run of it): epochs, dtype, the sets, shuffling, monitors.
	base         train.Config
	device, data string
	nonCanonical bool
	// Outputs and execution.
	out, saveDir, resume, plot string
	shard                      string
	shards                     int
	parallel                   int
	atOnce                     int // networks held in memory together (checkMemory)
	maxMemory                  string
	quiet                      bool
	stderr                     io.Writer
}

// Flag values that take the sweep's lists.
type (
	sizesFlag      struct{ dst *[][]int }
	floatsFlag     struct{ dst *[]float64 }
	uintsFlag      struct{ dst *[]uint64 }
	intsFlag       struct{ dst *[]int }
	layersListFlag struct{ dst *[]string }
	namesFlag      struct {
		dst   *[]string
		valid []string
	}
)

func (f sizesFlag) String() string { return "" }
func (f sizesFlag) Set(v string) error {
	var l cli.IntList
	if err := l.Set(v); err != nil {
		return err
	}
	if err := network.CheckSizes(l); err != nil {
		return err
	}
	*f.dst = append(*f.dst, l)
	return nil
}
func (f layersListFlag) String() string { return "" }
func (f layersListFlag) Set(v string) error {
	ls, err := sweep.ParseLayers(v)
	if err != nil {
		return err
	}
	if slices.Contains(*f.dst, ls) {
		return fmt.Errorf("%s is listed twice", ls)
	}
	*f.dst = append(*f.dst, ls)
	return nil
}
func (f floatsFlag) String() string { return "" }
func (f floatsFlag) Set(v string) (err error) {
	*f.dst, err = sweep.ParseFloats(v)
	return err
}
func (f uintsFlag) String() string { return "" }
func (f uintsFlag) Set(v string) (err error) {
	*f.dst, err = sweep.ParseUints(v, maxSweep)
	return err
}
func (f intsFlag) String() string { return "" }
func (f intsFlag) Set(v string) (err error) {
	*f.dst, err = sweep.ParseInts(v, maxSweep)
	return err
}
func (f namesFlag) String() string { return "" }
func (f namesFlag) Set(v string) (err error) {
	*f.dst, err = sweep.ParseNames(v, f.valid)
	return err
}

func names[T ~string](ts []T) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

const sweepUsage = `gputrain sweep trains many networks on one data set: the product of the
lists below (or the settings of --grid FILE), each network exactly the run
"gputrain train" would make with its settings. One JSON line per network
per epoch on stdout; the networks ranked on stderr at the end.

  gputrain sweep --eta 0.025,0.25,2.5 --lambda 0,5 --seed 1..4 --out DIR
  gputrain sweep --shards 4 --out DIR/shard-$I ...   (in a Kubernetes Indexed Job or Slurm array)
  gputrain sweep merge DIR...                         (the shards' tables as one)
`

func runSweep(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "merge" {
		return runSweepMerge(args[1:], stdout, stderr)
	}
	c := &sweepCmd{base: train.Book(), device: "cpu", data: defaultData, stderr: stderr}
	fs := cli.NewFlags("gputrain sweep")
	fs.Usage = func() { fmt.Fprint(fs.Output(), sweepUsage+"\nFlags:\n") }
	fs.Var(sizesFlag{&c.axes.Sizes}, "sizes", "layer sizes, 784 first and 10 last; repeat for several shapes (default 784,30,10)")
	fs.Var(layersListFlag{&c.axes.Layers}, "layers", "chapter 6's networks (as gputrain train --layers takes them, such as conv:20x5x5,pool:2,fc:100,softmax:10); repeat for several; beside --sizes or alone")
	fs.Var(intsFlag{&c.axes.BatchSize}, "batch-size", "mini-batch sizes: a list and ranges, such as 10 or 10,100 (default 10)")
	fs.Var(floatsFlag{&c.axes.Eta}, "eta", "learning rates η, such as 0.025,0.25,2.5 (default 3)")
	fs.Var(floatsFlag{&c.axes.Lambda}, "lambda", "L2 regularisation λ values, such as 0,1,5 (default 0)")
	fs.Var(uintsFlag{&c.axes.Seed}, "seed", "seeds, a list and inclusive ranges, such as 1..5 (default 1)")
	fs.Var(namesFlag{&c.axes.Cost, names(network.Costs)}, "cost", "costs: "+oneOf(network.Costs)+" (default quadratic)")
	fs.Var(namesFlag{&c.axes.Activation, names(network.Activations)}, "activation", "hidden activations: "+oneOf(network.Activations)+" (default sigmoid)")
	fs.Var(namesFlag{&c.axes.WeightInit, []string{string(network.Large), string(network.Scaled)}}, "weight-init", "initial weights: large or scaled (default large)")
	fs.StringVar(&c.gridFile, "grid", "", "read the networks' settings from this JSON or CSV file instead of the lists")
	trainflags.Shared(fs, &c.base)
	fs.StringVar(&c.device, "device", c.device, deviceFlagHelp)
	fs.StringVar(&c.data, "data", c.data, "directory of the MNIST files (fetched there when missing)")
	fs.BoolVar(&c.nonCanonical, "allow-noncanonical", false, "read MNIST files that are not the canonical ones")
	fs.StringVar(&c.base.TrainSet, "train-set", c.base.TrainSet, trainSetHelp)
	fs.BoolVar(&c.base.Monitor, "monitor", false, "after each epoch measure network2's four monitors of each network (in its JSON lines, and its training cost in --plot)")
	fs.StringVar(&c.plot, "plot", "", "draw accuracy and training cost per epoch, one line per network, into this PNG (redrawn as the sweep goes)")
	fs.StringVar(&c.out, "out", "", "keep the sweep here: its plan, the JSON lines, the table and each network's last epoch (for --resume)")
	fs.StringVar(&c.saveDir, "save-dir", "", "write each network's model (network2.py JSON) into this folder, named by its settings")
	fs.StringVar(&c.resume, "resume", "", "continue the sweep kept in this --out folder, with its settings")
	fs.StringVar(&c.shard, "shard", "", "train only part I (from 0) of N of the grid: I/N")
	cli.IntVar(fs, &c.shards, "shards", 0, "split the grid into N parts and take this task's from JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm)")
	cli.IntVar(fs, &c.parallel, "parallel", 0, "CPU: groups of networks that train together, the cores shared among them (default: two per core); CUDA: not used (the networks of one shape train as one batched program)")
	fs.StringVar(&c.maxMemory, "max-memory", "", "refuse a sweep needing more memory than this (4GiB, 500MB)")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress line")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	plan, err := c.plan(set)
	if err != nil {
		return err
	}
	return c.run(plan, stdout)
}

// plan checks the flags and returns the sweep as a whole, with this task's
// shard; with --resume, the plan kept in that folder.
func (c *sweepCmd) plan(set map[string]bool) (*sweep.Plan, error) {
	if c.resume != "" {
		for name := range set {
			switch name {
			case "resume", "parallel", "quiet", "device", "max-memory", "save-dir", "plot":
			default:
				return nil, cli.Usagef("--%s: --resume continues the sweep with the settings it was started with; drop --%s", name, name)
			}
		}
		plan, err := sweep.ReadPlan(c.resume)
		if err != nil {
			return nil, err
		}
		c.out = c.resume
		if err := c.fromShared(plan); err != nil {
			return nil, err
		}
		return plan, c.check()
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	var grid []sweep.Setting
	var err error
	if c.gridFile != "" {
		for _, name := range []string{"sizes", "layers", "batch-size", "eta", "lambda", "seed", "cost", "activation", "weight-init"} {
			if set[name] {
				return nil, cli.Usagef("--%s and --grid: the grid file lists the networks' settings; leave --%s out", name, name)
			}
		}
		if grid, err = sweep.ReadGrid(c.gridFile, sweep.Book(), maxSweep); err != nil {
			return nil, err
		}
	} else if grid, err = c.axes.Grid(); err != nil {
		return nil, cli.Usagef("%v", err)
	}
	if len(grid) > maxSweep {
		return nil, cli.Usagef("%d networks: a sweep takes at most %d", len(grid), maxSweep)
	}
	plan := &sweep.Plan{Grid: grid, Epochs: c.base.Epochs, Shards: 1, Shared: c.shared()}
	switch {
	case c.shard != "" && set["shards"]:
		return nil, cli.Usagef("--shard and --shards: give one (--shard I/N names the part; --shards N takes I from the engine)")
	case c.shard != "":
		if plan.Shard, plan.Shards, err = sweep.ParseShard(c.shard); err != nil {
			return nil, cli.Usagef("%v", err)
		}
	case set["shards"] || os.Getenv(sweep.EnvSlurmID) != "":
		// A Slurm array says its size, so its tasks shard without --shards;
		// a Kubernetes pod cannot (see sweep.FromEnv).
		i, n, engine, err := sweep.FromEnv(os.Getenv, c.shards)
		if err != nil {
			return nil, cli.Usagef("%v", err)
		}
		plan.Shard, plan.Shards = i, n
		fmt.Fprintf(c.stderr, "gputrain sweep: shard %d of %d, from the %s (--shard 0/1 trains the whole grid)\n", i, n, engine)
	case os.Getenv(sweep.EnvKubernetesIndex) != "":
		fmt.Fprintf(c.stderr, "gputrain sweep: note: %s is set but --shards is not: training the whole grid (--shards N splits it over the Job's N pods)\n", sweep.EnvKubernetesIndex)
	}
	if plan.Shards > len(grid) {
		return nil, cli.Usagef("%d shards of a grid of %d networks: some shards would have none", plan.Shards, len(grid))
	}
	return plan, nil
}

// shared is the flags every network shares, as the plan records them.
func (c *sweepCmd) shared() map[string]string {
	data, err := filepath.Abs(c.data)
	if err != nil {
		data = c.data
	}
	return map[string]string{
		"dtype": c.base.Dtype.String(), "data": data, "eval": c.base.Eval, "train_limit": fmt.Sprint(c.base.TrainLimit),
		"no_shuffle": fmt.Sprint(c.base.NoShuffle), "allow_noncanonical": fmt.Sprint(c.nonCanonical),
		"monitor": fmt.Sprint(c.base.Monitor), "train_set": c.base.TrainSet,
	}
}

// fromShared takes a kept plan's shared flags.
func (c *sweepCmd) fromShared(p *sweep.Plan) error {
	s := p.Shared
	if err := c.base.Dtype.UnmarshalText([]byte(s["dtype"])); err != nil {
		return fmt.Errorf("%s: its plan's %v", c.resume, err)
	}
	c.base.Epochs, c.data, c.base.Eval = p.Epochs, s["data"], s["eval"]
	fmt.Sscan(s["train_limit"], &c.base.TrainLimit)
	c.base.TrainSet = s["train_set"] // "" in older plans: standard
	c.base.NoShuffle, c.nonCanonical, c.base.Monitor = s["no_shuffle"] == "true", s["allow_noncanonical"] == "true", s["monitor"] == "true"
	c.base = c.base.Norm()
	return nil
}

func (c *sweepCmd) check() error {
	deviceErr := checkDevice(c.device)
	if err := trainflags.Check(c.base); err != nil { // the lists are checked as they are read
		return err
	}
	switch {
	case c.base.TrainSet != "" && !slices.Contains(trainSets, c.base.TrainSet):
		return cli.Usagef("--train-set %q: want %s", c.base.TrainSet, oneOf(trainSets))
	case deviceErr != nil:
		return deviceErr
	case c.parallel < 0:
		return cli.Usagef("--parallel %d: must be 0 (automatic) or more", c.parallel)
	case c.data == "":
		return cli.Usagef("--data is empty: name the folder of the MNIST files")
	}
	if c.parallel == 0 {
		// Twice the cores: where one core runs slower than the other (a
		// shared machine's do, by a quarter at times), the Go scheduler
		// gives the groups waiting on it to the faster; with one group a
		// core, the sweep waited for the slower one's.
		c.parallel = 2 * runtime.GOMAXPROCS(0)
		if c.device == "cuda" {
			c.parallel = 1
		}
	}
	return nil
}

// checkMemory fits the networks trained at once into limit: fewer at once
// when all would not fit (with a note), none when one alone does not.
func (c *sweepCmd) checkMemory(mine []sweep.Setting, limit memlimit.Limit) error {
	n := trainSetImages(c.base.TrainSet)
	if c.base.TrainLimit > 0 {
		n = min(n, c.base.TrainLimit)
	}
	largest, which := 0.0, mine[0]
	for _, s := range mine {
		est := archTrainEstimate(s.Arch(), s.BatchSize, n, c.base.Dtype, c.base.Eval != "none", c.saveDir != "" || c.out != "")
		if est += trainSetBytes(c.base.TrainSet); est > largest {
			largest, which = est, s
		}
	}
	what := fmt.Sprintf("network %s in %s", which.Name(), c.base.Dtype)
	if err := limit.Check(what, largest); err != nil {
		return cli.Usagef("%v", err)
	}
	// Every network of a pass is held at once (on CUDA, a pass of one
	// shape is one group), the data set once for all: as many networks as
	// fit beside it.
	shared := baseBytes + datasetBytes()
	c.atOnce = len(mine)
	for c.atOnce > 1 && limit.Check(what, shared+(largest-shared)*float64(c.atOnce)) != nil {
		c.atOnce = c.atOnce * 3 / 4
	}
	if c.atOnce < len(mine) {
		fmt.Fprintf(c.stderr, "gputrain sweep: note: %d networks at once would not fit in memory: training them in passes of %d\n", len(mine), c.atOnce)
	}
	return nil
}

// runSweepMerge is `gputrain sweep merge DIR...`.
func runSweepMerge(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("gputrain sweep merge")
	out := fs.String("out", "", "also write the merged table into this folder")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cli.PrintHelp(fs, stdout)
		}
		return cli.Usagef("merge: %v", err)
	}
	dirs := fs.Args()
	if len(dirs) == 0 {
		return cli.Usagef("merge: name the shards' --out folders")
	}
	m, err := sweep.Merge(dirs)
	if err != nil {
		return err
	}
	if err := sweep.WriteTable(stdout, m.Rows); err != nil {
		return err
	}
	complete := len(m.Plan.Grid) - len(m.Missing) - len(m.Incomplete)
	fmt.Fprintf(stderr, "gputrain sweep merge: %d folders, %d of %d networks complete\n", len(dirs), complete, len(m.Plan.Grid))
	for _, s := range m.Missing {
		fmt.Fprintf(stderr, "missing: %s (shard %d of %d has no line of it)\n", s.Name(), shardOf(m.Plan, s), m.Plan.Shards)
	}
	for _, s := range m.Incomplete {
		fmt.Fprintf(stderr, "incomplete: %s (fewer than %d epochs: still running, or stopped; --resume its shard's folder)\n", s.Name(), m.Plan.Epochs)
	}
	for _, d := range m.Duplicated {
		fmt.Fprintf(stderr, "duplicated: %s; the first folder's lines are kept\n", d)
	}
	if *out != "" {
		if err := writeMerged(*out, m); err != nil {
			return err
		}
	}
	if len(m.Missing)+len(m.Incomplete) > 0 {
		return fmt.Errorf("merge: %d networks missing, %d incomplete", len(m.Missing), len(m.Incomplete))
	}
	return nil
}

// shardOf says which shard a setting belongs to.
func shardOf(p sweep.Plan, s sweep.Setting) int {
	for i := range p.Shards {
		for _, t := range sweep.Shard(p.Grid, i, p.Shards) {
			if t.Name() == s.Name() {
				return i
			}
		}
	}
	return -1
}

func writeMerged(dir string, m *sweep.Merged) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out: %v", err)
	}
	var b strings.Builder
	if err := sweep.WriteTable(&b, m.Rows); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, sweep.TableFile), []byte(b.String()))
}
