package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"time"

	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/internal/safefile"
	"github.com/gputrain/gputrain/mnist"
	"github.com/gputrain/gputrain/sweep"
)

// netCheckpoint is a network's state at the end of its last finished
// epoch, kept in --out so that --resume continues it bit for bit.
type netCheckpoint struct {
	Name     string           `json:"name"`
	Position train.Position   `json:"position"`
	Model    *network.Network `json:"model"`
}

// checkpointsDir holds the networks' checkpoints inside --out.
const checkpointsDir = "checkpoints"

func writeFileAtomic(path string, data []byte) error {
	return safefile.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// sweepRun is the state of one sweep while it trains.
type sweepRun struct {
	*sweepCmd
	plan            *sweep.Plan
	training, eval  *mnist.Set
	mu              sync.Mutex // guards what follows
	stdout, results io.Writer
	done, total     int // network-epochs
	diverged        []string
	started         time.Time
	// first and last span the epochs trained: from the first one's start
	// to the last one's end, what a train run's epoch seconds add up to.
	first, last      time.Time
	kept             map[string]*netCheckpoint
	lines            []sweep.Epoch // every line of the sweep's networks so far
	progressShown    bool
	progressTerminal bool
	lastPlot         time.Time
}

func (c *sweepCmd) run(plan *sweep.Plan, stdout io.Writer) error {
	mine := sweep.Shard(plan.Grid, plan.Shard, plan.Shards)
	limit, err := memlimit.Get(c.maxMemory)
	if err != nil {
		return err
	}
	if err := c.checkMemory(mine, limit); err != nil {
		return err
	}
	if c.plot != "" {
		if err := safefile.ProbeWritable(c.plot); err != nil {
			return fmt.Errorf("--plot: %v", err)
		}
	}
	for _, dir := range []struct{ flag, path string }{{"out", c.out}, {"save-dir", c.saveDir}} {
		if dir.path != "" {
			if err := os.MkdirAll(dir.path, 0o755); err != nil {
				return fmt.Errorf("--%s: %v", dir.flag, err)
			}
			if err := safefile.ProbeWritable(filepath.Join(dir.path, "probe")); err != nil {
				return fmt.Errorf("--%s: %v", dir.flag, err)
			}
		}
	}
	data, err := mnist.EnsureWith(c.data, c.stderr, dataOptions(c.nonCanonical, limit))
	if err != nil {
		return err
	}
	r := &sweepRun{sweepCmd: c, plan: plan, stdout: stdout, started: time.Now(), kept: map[string]*netCheckpoint{}}
	if err := useTrainSet(c.base.TrainSet, c.data, data, c.stderr); err != nil {
		return err
	}
	if r.training, r.eval, err = c.sets(data); err != nil {
		return err
	}
	var prior []sweep.Epoch
	if c.out != "" {
		if prior, err = r.openOut(mine); err != nil {
			return err
		}
		defer r.results.(*os.File).Close()
	}
	r.total = len(mine) * c.base.Epochs
	r.lines = prior
	r.progressTerminal = isTerminal(c.stderr) && !c.quiet
	todo := r.todo(mine, prior)

	ctx, stop := context.Background(), context.CancelFunc(func() {})
	if sigs := stopSignals(); len(sigs) > 0 {
		ctx, stop = signal.NotifyContext(ctx, sigs...)
	}
	defer stop()
	err = r.trainAll(ctx, todo)
	r.clearProgress()
	if errors.Is(err, errInterrupted) {
		if c.out == "" {
			fmt.Fprintf(c.stderr, "gputrain sweep: interrupted: the networks finished are above (and in --save-dir); --out DIR keeps a sweep to --resume\n")
		} else {
			fmt.Fprintf(c.stderr, "gputrain sweep: interrupted: every finished epoch is kept in %s; continue with: gputrain sweep --resume %s\n", c.out, c.out)
		}
		return errInterrupted
	}
	if err != nil {
		return err
	}
	return r.finish()
}

// sets picks the training images and the evaluation set, as train does.
func (c *sweepCmd) sets(d *mnist.Data) (training, eval *mnist.Set, err error) {
	if training, eval, err = trainflags.Sets(c.base, d); err != nil {
		return nil, nil, err
	}
	if training.Len() == 0 {
		return nil, nil, fmt.Errorf("--data %s: the training set has no images: nothing to train on", c.data)
	}
	return training, eval, nil
}

// openOut writes the plan into --out (or checks it on --resume), reads
// what an earlier start left there, and keeps of it only the lines that
// the networks' checkpoints cover: a network caught mid-epoch starts that
// epoch again, and one with no checkpoint starts afresh.
func (r *sweepRun) openOut(mine []sweep.Setting) ([]sweep.Epoch, error) {
	planPath := filepath.Join(r.out, sweep.PlanFile)
	resultsPath := filepath.Join(r.out, sweep.ResultsFile)
	var kept []sweep.Epoch
	if r.resume == "" {
		if _, err := os.Stat(planPath); err == nil {
			return nil, fmt.Errorf("--out %s holds a sweep already: --resume %s continues it, or choose another folder", r.out, r.out)
		}
		data, _ := json.MarshalIndent(r.plan, "", " ")
		if err := writeFileAtomic(planPath, append(data, '\n')); err != nil {
			return nil, err
		}
	} else {
		lines, err := sweep.ReadResults(resultsPath)
		if err != nil {
			return nil, err
		}
		for _, s := range mine {
			ck, err := readNetCheckpoint(filepath.Join(r.out, checkpointsDir, s.Name()+".json"), s)
			if err != nil {
				return nil, err
			}
			if ck != nil {
				r.kept[s.Name()] = ck
			}
		}
		for _, l := range lines {
			ck := r.kept[l.Name()]
			if complete(lines, l.Setting, r.base.Epochs) || ck != nil && l.Epoch < ck.Position.Epoch {
				kept = append(kept, l)
			}
		}
		var buf bytes.Buffer
		for _, l := range kept {
			b, _ := json.Marshal(l)
			buf.Write(append(b, '\n'))
		}
		if err := writeFileAtomic(resultsPath, buf.Bytes()); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(r.out, checkpointsDir), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(resultsPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	r.results = f
	return kept, nil
}

// complete reports whether lines finish s: every epoch, or a divergence.
func complete(lines []sweep.Epoch, s sweep.Setting, epochs int) bool {
	n := 0
	for _, l := range lines {
		if l.Name() == s.Name() {
			if l.Diverged != "" {
				return true
			}
			n++
		}
	}
	return n >= epochs
}

func readNetCheckpoint(path string, s sweep.Setting) (*netCheckpoint, error) {
	data, err := safefile.ReadFile(path, "a network's checkpoint", 1<<30)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ck netCheckpoint
	if err := json.Unmarshal(data, &ck); err != nil || ck.Model == nil || ck.Name != s.Name() {
		return nil, fmt.Errorf("%s: not the checkpoint of %s (%v); delete it to train that network afresh", path, s.Name(), err)
	}
	return &ck, nil
}

// todo is mine less the networks that prior lines finish.
func (r *sweepRun) todo(mine []sweep.Setting, prior []sweep.Epoch) []sweep.Setting {
	var out []sweep.Setting
	for _, s := range mine {
		if !complete(prior, s, r.base.Epochs) {
			out = append(out, s)
		}
	}
	for _, l := range prior {
		if l.Diverged == "" {
			r.done++
		} else {
			r.done += r.base.Epochs - l.Epoch
		}
	}
	return out
}

// trainAll trains the networks together: on the CPU in groups
// (trainGroups), on CUDA as batched programs (trainCUDAGroups). The first
// error other than a network's divergence stops the rest.
func (r *sweepRun) trainAll(ctx context.Context, todo []sweep.Setting) error {
	if r.device != "cuda" {
		return r.trainGroups(ctx, todo)
	}
	return r.trainCUDAGroups(ctx, todo)
}

// sweepEnd is how a sweep whose networks have all stopped ends: with the
// error that stopped them, interrupted, or well.
func sweepEnd(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	return nil
}

// config is what a backend for s compiles its programs for.
func (r *sweepRun) config(s sweep.Setting) train.Config {
	return s.Config(r.base).On(r.training.Len())
}

// trainOn trains s on b, which it closes: from its checkpoint when there
// is one, else from its initial network.
func (r *sweepRun) trainOn(ctx context.Context, s sweep.Setting, b train.Trainer) error {
	defer b.Close()
	net, pos := (*network.Network)(nil), train.Position{}
	if ck := r.kept[s.Name()]; ck != nil {
		net, pos = ck.Model, ck.Position
	} else {
		var err error
		cfg := s.Config(r.base)
		if net, err = network.NewSpec(cfg.Spec, cfg.Seed, cfg.WeightInit); err != nil {
			return err
		}
	}
	if err := b.SetNetwork(net); err != nil {
		return fmt.Errorf("%s: %w", s.Name(), err)
	}
	sh := train.NewShuffler(s.Seed, !r.base.NoShuffle)
	opt := train.Options{Epochs: r.base.Epochs, Eval: r.eval, Start: pos}
	err := train.Run(ctx, b, r.training.Len(), sh, opt, func(res train.Result, next train.Position) error {
		r.epochStarted(time.Now().Add(-time.Duration((res.Seconds + res.EvalSecs) * float64(time.Second))))
		line := sweep.Epoch{Setting: s, Epoch: res.Epoch, Correct: res.Correct, Total: res.Total, EpochCost: res.Cost, Seconds: res.Seconds}
		if r.base.Monitor {
			if err := r.monitors(b, &line); err != nil {
				return err
			}
		}
		if err := r.emit(line); err != nil {
			return err
		}
		return r.keep(b, s, next)
	})
	var d *train.Divergence
	var in *train.Interrupted
	switch {
	case errors.As(err, &d):
		return r.emit(sweep.Epoch{Setting: s, Epoch: d.Epoch, Diverged: d.Error()})
	case errors.As(err, &in):
		return errInterrupted
	case err != nil:
		return fmt.Errorf("%s: %w", s.Name(), err)
	}
	if r.saveDir != "" {
		n, err := b.Network()
		if err != nil {
			return err
		}
		if err := n.Save(filepath.Join(r.saveDir, s.Name()+".json")); err != nil {
			return fmt.Errorf("--save-dir: %w", err)
		}
	}
	if r.out != "" {
		os.Remove(filepath.Join(r.out, checkpointsDir, s.Name()+".json"))
	}
	return nil
}

// keep writes a network's checkpoint after an epoch, when there is --out.
func (r *sweepRun) keep(b train.Trainer, s sweep.Setting, next train.Position) error {
	if r.out == "" || next.Epoch >= r.base.Epochs {
		return nil
	}
	n, err := b.Network()
	if err != nil {
		return err
	}
	data, err := json.Marshal(netCheckpoint{Name: s.Name(), Position: next, Model: n})
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(r.out, checkpointsDir, s.Name()+".json"), data)
}

// epochStarted notes when an epoch began, for the span of the sweep's
// training.
func (r *sweepRun) epochStarted(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first.IsZero() || t.Before(r.first) {
		r.first = t
	}
}

// emit writes a line on stdout and into --out's results, then the
// progress line.
func (r *sweepRun) emit(l sweep.Epoch) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clearProgressLocked()
	if _, err := r.stdout.Write(b); err != nil {
		return err
	}
	if r.results != nil {
		if _, err := r.results.Write(b); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	r.lines = append(r.lines, l)
	r.last = time.Now()
	if l.Diverged != "" {
		r.done += r.base.Epochs - l.Epoch
		r.diverged = append(r.diverged, fmt.Sprintf("%s diverged in epoch %d: %s", l.Name(), l.Epoch, l.Diverged))
		fmt.Fprintf(r.stderr, "gputrain sweep: %s\n", r.diverged[len(r.diverged)-1])
	} else {
		r.done++
	}
	if r.plot != "" && time.Since(r.lastPlot) > 2*time.Second {
		r.redrawLocked()
	}
	r.showProgressLocked()
	return nil
}

// redrawLocked redraws --plot; a plot that cannot be written costs a
// warning, not the sweep.
func (r *sweepRun) redrawLocked() {
	r.lastPlot = time.Now()
	if err := writeSweepPlot(r.plot, r.plan.Grid, r.lines); err != nil {
		fmt.Fprintf(r.stderr, "gputrain sweep: warning: %v; training goes on\n", err)
	}
}

// monitors measures network2's four monitors of the network b holds, on
// its device, as train --monitor does.
func (r *sweepRun) monitors(b train.Trainer, l *sweep.Epoch) error {
	m, err := measureMonitors(b, r.training, r.eval)
	if err != nil {
		return err
	}
	acc := float64(m.TrainingCorrect) / float64(r.training.Len())
	l.TrainingCost, l.TrainingAccuracy = &m.TrainingCost, &acc
	if r.eval != nil {
		eacc := float64(l.Correct) / float64(max(1, l.Total))
		l.EvaluationCost, l.EvaluationAccuracy = &m.EvalCost, &eacc
	}
	return nil
}

// finish prints the ranked table (and keeps it in --out).
func (r *sweepRun) finish() error {
	var table bytes.Buffer
	rows := sweep.Summarize(r.lines)
	if err := sweep.WriteTable(&table, rows); err != nil {
		return err
	}
	fmt.Fprint(r.stderr, table.String())
	if r.plot != "" {
		r.mu.Lock()
		r.redrawLocked()
		r.mu.Unlock()
	}
	span := 0.0
	if !r.first.IsZero() && r.last.After(r.first) {
		span = r.last.Sub(r.first).Seconds()
	}
	fmt.Fprintf(r.stderr, "Time: %d networks, %.2fs training (the first epoch's start to the last one's end), %.2fs after loading the data\n",
		len(rows), span, time.Since(r.started).Seconds())
	if len(r.diverged) > 0 {
		fmt.Fprintf(r.stderr, "Diverged: %d networks (the others trained on)\n", len(r.diverged))
	}
	if r.out == "" {
		return nil
	}
	os.Remove(filepath.Join(r.out, checkpointsDir)) // empty once every network finished
	return writeFileAtomic(filepath.Join(r.out, sweep.TableFile), table.Bytes())
}
