// Package cuda trains gputrain's networks on NVIDIA GPUs: it runs the
// instruction programs that package graph compiles (the forward pass,
// Gorgonia's gradients and the book's SGD update) through
// gorgonia.org/cu (the CUDA driver API) and cuBLAS.
//
// # Building
//
// The GPU backend is behind the build tag gpu (not cuda, which Gorgonia
// keeps for its own cuDNN-based VM):
//
//	make cuda                            # go build -tags gpu -o bin/gputrain-cuda ./cmd/gputrain
//	bin/gputrain-cuda train --device cuda
//
// It needs the CUDA toolkit's headers and link libraries (Debian bookworm:
// enable the non-free component, then apt-get install nvidia-cuda-toolkit),
// or the container built by docker/cuda.Dockerfile. A build without the tag
// has the same API: Open fails with ErrNoCUDA and Available is false. A
// binary built with the tag needs the NVIDIA driver to start at all
// (gorgonia.org/cu initialises CUDA when the program loads); a check that
// runs before it says in one line why it cannot. cuBLAS is not linked but
// loaded when Open first runs, from any CUDA 11.8 or later (cublas.go says
// where it is looked for), so one binary serves every CUDA install.
//
// # Design
//
// The backend is a train.Machine; the batch loop, divergence checks,
// evaluation and monitors are train.Session's, as for the CPU. The
// training set is uploaded once, as bytes; per epoch only the order of the
// images goes up (int32s). Each step gathers its mini-batch on the device
// (p/255 and one-hot labels), runs the program, and leaves its cost on the
// device; the costs come back once per epoch (every 100 steps when someone
// watches progress), which is where divergence is detected, with the exact
// mini-batch. Evaluation runs the forward program on the device and copies
// back the ten activations of each image (and, for the monitors, the
// batch's cost). Parameters leave the device in Params, and once an epoch
// for the session's NaN check.
//
// Matrix products are cuBLAS gemm calls (planGEMM maps row-major products
// onto column-major cuBLAS). Every other instruction runs in a "segment":
// a kernel that interprets a list of op descriptors, so a chain of
// element-wise ops, reductions included, costs one launch (the scheduler
// in plan.go groups them, reordering where dependencies allow). At batch
// 10 a step of [784,30,10] is nine launches; it is captured once into a
// CUDA graph (the batch offset lives in device memory, so one graph serves
// every batch), twenty steps to a graph, and replayed.
//
// The kernels (kernels.cu) are compiled to PTX for compute_60, committed
// and embedded; the driver JIT-compiles them for the GPU at hand. The same
// source is compiled by the host C++ compiler through emu/cuda_emu.h so the
// tests run every kernel on the CPU and compare it with the CPU backend,
// on machines without a GPU. docs/GPU.md lists the make targets, and the
// GPU kit (make gpu-kit) that runs every GPU check on a machine without Go.
package cuda
