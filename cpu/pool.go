package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// pool runs one function on w workers at once (the caller being worker 0)
// and waits for all. A training step hands off a few times every 50 µs,
// far too often for channels, so idle workers spin on an atomic counter
// for a while before they park on a condition variable.
type pool struct {
	w     int
	job   func(int)
	gen   atomic.Uint64 // bumped to start a job
	left  atomic.Int32  // workers still busy with the current job
	mu    sync.Mutex
	cond  *sync.Cond
	sleep atomic.Int32 // workers parked on cond
	quit  atomic.Bool
}

// spinRounds is how long an idle worker polls before parking: long enough
// to span the gaps between products in a step, short enough not to burn a
// core between epochs.
const spinRounds = 200000

func newPool(w int) *pool {
	p := &pool{w: w}
	p.cond = sync.NewCond(&p.mu)
	for i := 1; i < w; i++ {
		go p.worker(i)
	}
	return p
}

func (p *pool) size() int { return p.w }

func (p *pool) run(job func(int)) {
	p.job = job
	p.left.Store(int32(p.w - 1))
	p.mu.Lock()
	p.gen.Add(1)
	if p.sleep.Load() > 0 {
		p.cond.Broadcast()
	}
	p.mu.Unlock()
	job(0)
	for p.left.Load() > 0 {
		runtime.Gosched()
	}
}

func (p *pool) worker(i int) {
	var seen uint64 // the generation at creation: a job posted before this goroutine starts still runs
	for {
		spins := 0
		for p.gen.Load() == seen && !p.quit.Load() {
			spins++
			if spins < spinRounds {
				continue
			}
			p.mu.Lock()
			p.sleep.Add(1)
			for p.gen.Load() == seen && !p.quit.Load() {
				p.cond.Wait()
			}
			p.sleep.Add(-1)
			p.mu.Unlock()
		}
		if p.quit.Load() {
			return
		}
		seen = p.gen.Load()
		p.job(i)
		p.left.Add(-1)
	}
}

func (p *pool) close() {
	p.quit.Store(true)
	p.mu.Lock()
	p.cond.Broadcast()
	p.mu.Unlock()
}
