package main

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/sweep"
)

// trainGroups trains the networks on the CPU together: in passes of at
// most r.atOnce networks (what memory holds), each pass split into
// r.parallel groups of about equal work, each on its share of the cores
// (one, unless there are fewer groups than cores; with more groups than
// cores, the Go scheduler shares the cores among them). A group's
// networks take their steps together (cpu.Group), each network on a
// goroutine of its own that waits at every step for the others of its
// group; networks of one seed and first layer sit side by side, so that
// they share their batches' images.
func (r *sweepRun) trainGroups(ctx context.Context, todo []sweep.Setting) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	todo = slices.Clone(todo)
	slices.SortStableFunc(todo, func(a, b sweep.Setting) int {
		return cmp.Or(cmp.Compare(a.BatchSize, b.BatchSize), cmp.Compare(a.Layers, b.Layers), slices.Compare(firstLayer(a.Sizes), firstLayer(b.Sizes)), cmp.Compare(a.Seed, b.Seed))
	})
	step := max(1, r.atOnce)
	for lo := 0; lo < len(todo) && ctx.Err() == nil; lo += step {
		var wg sync.WaitGroup
		parts := splitWork(todo[lo:min(lo+step, len(todo))], r.parallel)
		for _, part := range parts {
			g := cpu.NewGroup(max(1, runtime.GOMAXPROCS(0)/len(parts)))
			trainers := make([]train.Trainer, 0, len(part))
			for _, s := range part {
				b, err := g.Open(r.config(s), r.training, strconv.FormatUint(s.Seed, 10))
				if err != nil {
					cancel(fmt.Errorf("%s: %w", s.Name(), err))
					break
				}
				trainers = append(trainers, b)
			}
			if len(trainers) < len(part) { // every trainer of a group is open before any trains
				for _, b := range trainers {
					b.Close()
				}
				break
			}
			for i, s := range part {
				wg.Go(func() {
					if err := r.trainOn(ctx, s, trainers[i]); err != nil {
						cancel(err)
					}
				})
			}
		}
		wg.Wait()
	}
	return sweepEnd(ctx)
}

// firstLayer is the first two sizes, what the group stacks by (none for
// a network of layers).
func firstLayer(sizes []int) []int { return sizes[:min(2, len(sizes))] }

// splitWork cuts settings, in their order, into at most n runs of about
// equal work.
func splitWork(settings []sweep.Setting, n int) [][]sweep.Setting {
	total := 0.0
	for _, s := range settings {
		total += s.Work()
	}
	var parts [][]sweep.Setting
	start, done := 0, 0.0
	for i, s := range settings {
		done += s.Work()
		if float64(len(parts)+1)*total/float64(n) <= done*(1+1e-9) || i == len(settings)-1 {
			parts = append(parts, settings[start:i+1])
			start = i + 1
		}
	}
	return parts
}
