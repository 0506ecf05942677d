package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// pool runs the chunks of one job on w workers at once, the caller being
// one of them, and returns when all are done. A training step hands off a
// few times every 30 µs, far too often for channels, so idle workers spin
// on an atomic counter for a while before they park on a condition
// variable. Workers claim chunks one at a time, so when the OS takes a
// core away (a shared machine), the caller does the unclaimed chunks
// itself instead of waiting for a worker that is not running.
//
// The caller claims chunks from the first on and the workers from the last
// back. A step's chunks follow its images (or rows) in order, so each core
// mostly takes the same images in one step as in the step before, and
// reads what it wrote from its own cache: claimed from one end by all, the
// chunks went to whichever core came first, and a chapter 6 step at batch
// 10 or 100 ran 4–7% slower (alternating in one process).
type pool struct {
	w      int
	job    func(int)
	chunks int32
	ends   atomic.Uint64 // chunks not yet claimed: [low 32 bits, high 32 bits)
	done   atomic.Int32  // chunks finished
	gen    atomic.Uint64 // odd while a job is being posted, bumped again once it is
	mu     sync.Mutex
	cond   *sync.Cond
	sleep  atomic.Int32 // workers parked on cond
	quit   atomic.Bool
	active atomic.Int32 // workers inside a job; the next job waits for them to leave
}

// spinTime is how long an idle worker polls before parking: long enough
// to span the gaps between products in a step (a chapter 6 step at batch
// 10 is about 2 ms, its longest stretch on one core a few tens of µs),
// short enough not to burn a core between epochs. It is a time, not a
// count of polls: with 200,000 polls, the count before, workers parked
// within steps here (62 times in 200 steps of chapter 6's ReLU network at
// batch 10), each wake-up a futex call and a trip through the scheduler.
// With 2 ms none parked, and the steps ran about 5% faster than with a
// spin of 60 µs (800 steps alternating, batch 10 and 100).
const spinTime = 2 * time.Millisecond

// spinCheck is how many polls pass between readings of the clock.
const spinCheck = 1024

func newPool(w int) *pool {
	p := &pool{w: w}
	p.cond = sync.NewCond(&p.mu)
	for i := 1; i < w; i++ {
		go p.worker()
	}
	return p
}

func (p *pool) size() int { return p.w }

// run calls job(i) for every i < chunks, spread over the workers.
func (p *pool) run(chunks int, job func(int)) {
	// Odd: a worker arriving from now on keeps off the job's fields, and
	// stragglers of the last job, which still read them, leave first.
	p.gen.Add(1)
	for p.active.Load() > 0 {
		runtime.Gosched()
	}
	p.job, p.chunks = job, int32(chunks)
	p.done.Store(0)
	p.ends.Store(uint64(chunks) << 32)
	p.mu.Lock()
	p.gen.Add(1)
	if p.sleep.Load() > 0 {
		p.cond.Broadcast()
	}
	p.mu.Unlock()
	p.claim(true)
	for p.done.Load() < p.chunks {
		runtime.Gosched()
	}
}

// claim runs chunks until none is left: the caller's from the first on,
// the workers' from the last back.
func (p *pool) claim(caller bool) {
	for {
		v := p.ends.Load()
		lo, hi := uint32(v), uint32(v>>32)
		if lo >= hi {
			return
		}
		i := lo
		if caller {
			lo++
		} else {
			hi--
			i = hi
		}
		if !p.ends.CompareAndSwap(v, uint64(hi)<<32|uint64(lo)) {
			continue
		}
		p.job(int(i))
		p.done.Add(1)
	}
}

// idle reports whether generation g holds no job for a worker that has
// seen generation seen: the same, or one being posted.
func idle(g, seen uint64) bool { return g == seen || g&1 == 1 }

func (p *pool) worker() {
	var seen uint64 // the generation at creation: a job posted before this goroutine starts still runs
	for {
		spins, since := 0, time.Now()
		for idle(p.gen.Load(), seen) && !p.quit.Load() {
			if spins++; spins%spinCheck != 0 || time.Since(since) < spinTime {
				continue
			}
			p.mu.Lock()
			p.sleep.Add(1)
			for idle(p.gen.Load(), seen) && !p.quit.Load() {
				p.cond.Wait()
			}
			p.sleep.Add(-1)
			p.mu.Unlock()
		}
		if p.quit.Load() {
			return
		}
		p.active.Add(1)
		// The job may have been finished and the next one begun being
		// posted since gen was read: only a posted one is claimed.
		if g := p.gen.Load(); !idle(g, seen) {
			seen = g
			p.claim(false)
		}
		p.active.Add(-1)
	}
}

func (p *pool) close() {
	p.quit.Store(true)
	p.mu.Lock()
	p.cond.Broadcast()
	p.mu.Unlock()
}
