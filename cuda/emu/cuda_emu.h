// cuda_emu.h lets the host C++ compiler build cuda/kernels.cu and run its
// kernels on the CPU, for the tests that have no GPU.
//
// A launch runs the grid's blocks one after another, and a block's threads
// one after another on the calling OS thread, in index order:
//
//   emu::launch_seq     runs each thread to completion before the next. That
//                       is a legal CUDA schedule for a kernel without
//                       barriers (gt_segn, gt_gather, gt_argmax), and a
//                       deterministic one; __syncthreads there aborts.
//   emu::launch_fibers  runs each thread as a fiber (ucontext) on its own
//                       stack: a thread runs until it reaches __syncthreads
//                       or ends, then the next one runs; once every thread
//                       of the block has arrived, they all go on, in index
//                       order again. That is __syncthreads's semantics, for
//                       the kernels with block-wide reductions (gt_seg1).
//                       A barrier missing from a kernel shows up as a
//                       thread reading what a later thread has not yet
//                       written, every time, not once in a while.
//
// __shared__ variables become function statics: shared by the block's
// threads, and blocks never overlap. threadIdx and blockIdx are globals the
// launcher sets before it resumes each thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <math.h>
#include <memory>
#include <ucontext.h>
#include <vector>

#define GPUTRAIN_EMU 1

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
	unsigned x, y, z;
	dim3(unsigned x = 1, unsigned y = 1, unsigned z = 1) : x(x), y(y), z(z) {}
};

inline dim3 threadIdx;
inline dim3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;

using std::max;
using std::min;

inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v) {
	unsigned long long old = *p;
	*p = old + v;
	return old;
}

namespace emu {

// fiber is one thread of a block in launch_fibers.
struct fiber {
	ucontext_t ctx;
	std::unique_ptr<char[]> stack;
	dim3 idx;
	bool done = false;
};

inline ucontext_t scheduler;     // the launcher's context
inline fiber *running = nullptr; // the fiber now running; null in launch_seq

inline void check(dim3 grid, dim3 block) {
	const unsigned long long n = (unsigned long long)block.x * block.y * block.z;
	if (n == 0 || n > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0) {
		std::fprintf(stderr, "cuda_emu: invalid launch: grid %ux%ux%u, block %ux%ux%u\n", grid.x, grid.y,
			     grid.z, block.x, block.y, block.z);
		std::abort();
	}
}

// fiber_main runs the kernel call at the address split into lo and hi:
// makecontext passes only int arguments.
template <class F> void fiber_main(unsigned lo, unsigned hi) {
	F *body = reinterpret_cast<F *>((uintptr_t)hi << 32 | lo);
	(*body)();
	running->done = true;
	// Returning resumes uc_link: the launcher.
}

// launch_seq runs body once per thread of the grid, in order.
template <class F> void launch_seq(dim3 grid, dim3 block, F body) {
	check(grid, block);
	gridDim = grid;
	blockDim = block;
	for (unsigned bz = 0; bz < grid.z; bz++)
		for (unsigned by = 0; by < grid.y; by++)
			for (unsigned bx = 0; bx < grid.x; bx++)
				for (unsigned tz = 0; tz < block.z; tz++)
					for (unsigned ty = 0; ty < block.y; ty++)
						for (unsigned tx = 0; tx < block.x; tx++) {
							blockIdx = dim3(bx, by, bz);
							threadIdx = dim3(tx, ty, tz);
							body();
						}
}

// launch_fibers runs each block's threads as fibers with a real barrier.
template <class F> void launch_fibers(dim3 grid, dim3 block, F body) {
	check(grid, block);
	gridDim = grid;
	blockDim = block;
	const uintptr_t at = reinterpret_cast<uintptr_t>(&body);
	const unsigned n = block.x * block.y * block.z;
	const size_t stackBytes = 256 << 10;
	for (unsigned bz = 0; bz < grid.z; bz++)
		for (unsigned by = 0; by < grid.y; by++)
			for (unsigned bx = 0; bx < grid.x; bx++) {
				blockIdx = dim3(bx, by, bz);
				std::vector<fiber> fibers(n);
				for (unsigned t = 0; t < n; t++) {
					fiber &f = fibers[t];
					f.idx = dim3(t % block.x, t / block.x % block.y, t / (block.x * block.y));
					f.stack.reset(new char[stackBytes]);
					getcontext(&f.ctx);
					f.ctx.uc_stack.ss_sp = f.stack.get();
					f.ctx.uc_stack.ss_size = stackBytes;
					f.ctx.uc_link = &scheduler;
					makecontext(&f.ctx, reinterpret_cast<void (*)()>(fiber_main<F>), 2, (unsigned)(at & 0xffffffffu),
						    (unsigned)(at >> 32));
				}
				// Each round runs every live thread up to its next barrier.
				for (unsigned live = n; live > 0;) {
					live = 0;
					for (fiber &f : fibers) {
						if (f.done)
							continue;
						running = &f;
						threadIdx = f.idx;
						swapcontext(&scheduler, &f.ctx);
						live += !f.done;
					}
				}
				running = nullptr;
			}
}

} // namespace emu

inline void __syncthreads() {
	if (!emu::running) {
		std::fprintf(stderr, "cuda_emu: __syncthreads in a kernel launched with launch_seq\n");
		std::abort();
	}
	emu::fiber *self = emu::running;
	swapcontext(&self->ctx, &emu::scheduler);
	// Resumed by the launcher, which has set threadIdx for this thread.
}
