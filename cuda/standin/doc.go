// Package standin holds the tests of the CPU stand-in for the CUDA driver
// and cuBLAS that runs gputrain's CUDA build without a GPU; it has no Go
// code of its own.
//
// The stand-in itself is C++ (src/): make standin builds bin/standin/
// (libcuda.so.1 and libcublas.so.11, .12, .13 and libcublas.so), and a CUDA
// binary run with LD_LIBRARY_PATH=bin/standin runs its kernels, copies,
// graphs and cuBLAS calls on the CPU while each call is held to CUDA's rules.
// The tests here trip each rule with a deliberately wrong call
// (testdata/rules.c), check that the stand-in is the library loaded, and
// train with bin/gputrain-cuda on it against the CPU build. They skip, saying
// so, until make standin has run. make gpu-standin-check runs them with the
// gpu-tagged tests of ./cuda on the stand-in.
//
// GPUTRAIN_STANDIN_FAIL=TAG:K makes the K-th driver or cuBLAS call, counted
// from when the variable last changed value, fail once instead of doing its
// work, with an error the documentation gives for that call (the table is
// in src/standin.h); GPUTRAIN_STANDIN_FAIL_REPORT=PATH gets "TAG K CALL"
// appended when it fires. The rule case "fault" shows it; TestGPUFaults in
// ./cuda fails every call of a training run with it in turn.
package standin
