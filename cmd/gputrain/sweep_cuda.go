package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/gputrain/gputrain/cuda"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/sweep"
)

// trainCUDAGroups trains the networks on CUDA as batched programs: the
// networks of one shape (sizes, activation, cost, batch size; η, λ and
// seed may differ) train together as one cuda.Group, in passes of at
// most r.atOnce networks (what memory holds), one group after another,
// each filling the device. A group's networks each take a goroutine that
// waits at every step for the others. A network of layers (chapter 6)
// trains alone, as gputrain train --device cuda would.
func (r *sweepRun) trainCUDAGroups(ctx context.Context, todo []sweep.Setting) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	shape := func(s sweep.Setting) string {
		return fmt.Sprint(s.Sizes, s.Layers, s.Activation, s.Cost, s.BatchSize)
	}
	todo = slices.Clone(todo)
	slices.SortStableFunc(todo, func(a, b sweep.Setting) int { return cmp.Compare(shape(a), shape(b)) })
	step := max(1, r.atOnce)
	for lo := 0; lo < len(todo) && ctx.Err() == nil; {
		if todo[lo].Layers != "" {
			r.trainCUDAAlone(ctx, cancel, todo[lo])
			lo++
			continue
		}
		hi := lo + 1
		for hi < len(todo) && hi-lo < step && shape(todo[hi]) == shape(todo[lo]) {
			hi++
		}
		r.trainCUDAGroup(ctx, cancel, todo[lo:hi])
		lo = hi
	}
	return sweepEnd(ctx)
}

// trainCUDAAlone trains one network on its own CUDA backend.
func (r *sweepRun) trainCUDAAlone(ctx context.Context, cancel context.CancelCauseFunc, s sweep.Setting) {
	b, err := cuda.Open(r.config(s), r.training)
	if err == nil {
		err = r.trainOn(ctx, s, b)
	} else {
		err = fmt.Errorf("%s: %w", s.Name(), err)
	}
	if err != nil {
		cancel(err)
	}
}

// trainCUDAGroup opens part's networks in one group, then trains them.
func (r *sweepRun) trainCUDAGroup(ctx context.Context, cancel context.CancelCauseFunc, part []sweep.Setting) {
	g := cuda.NewGroup()
	trainers := make([]train.Trainer, 0, len(part))
	for _, s := range part {
		b, err := g.Open(r.config(s), r.training)
		if err != nil {
			for _, b := range trainers { // every trainer of a group is open before any trains
				b.Close()
			}
			cancel(fmt.Errorf("%s: %w", s.Name(), err))
			return
		}
		trainers = append(trainers, b)
	}
	var wg sync.WaitGroup
	for i, s := range part {
		wg.Go(func() {
			if err := r.trainOn(ctx, s, trainers[i]); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
}
