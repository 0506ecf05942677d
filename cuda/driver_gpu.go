//go:build gpu

package cuda

// What gorgonia.org/cu v0.9.6 lacks, bound directly: CUDA Graphs (stream
// capture, instantiation and launch; cu has graph construction only), the
// driver's error text, and a check of the driver before cu's package init.
// cuBLAS is loaded at run time (cublas_gpu.go). Device pointers cross into
// C as integers, so no Go pointer rules are bent.

/*
#cgo CFLAGS: -I/usr/local/cuda/include
#cgo LDFLAGS: -L/usr/local/cuda/lib64 -L/usr/local/cuda/lib64/stubs -lcuda
#define _GNU_SOURCE // program_invocation_short_name
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cuda.h>

// Thread-local capture: only this (locked) thread is barred from calls
// that are unsafe during a capture, and it makes none.
static CUresult gtCaptureBegin(CUstream s) {
	return cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
}

// gtCaptureAbort ends a capture that is being abandoned, if the stream is
// still capturing, so that it leaves capture mode.
static void gtCaptureAbort(CUstream s) {
	CUstreamCaptureStatus st;
	if (cuStreamIsCapturing(s, &st) == CUDA_SUCCESS && st == CU_STREAM_CAPTURE_STATUS_NONE) return;
	CUgraph g = 0;
	if (cuStreamEndCapture(s, &g) == CUDA_SUCCESS && g) cuGraphDestroy(g);
}

// gtCaptureEnd ends the capture and instantiates its graph. However it
// fails, the stream leaves capture mode: one left capturing refuses every
// later synchronisation, allocation and free.
static CUresult gtCaptureEnd(CUstream s, CUgraphExec *exec) {
	CUgraph g;
	CUresult r = cuStreamEndCapture(s, &g);
	if (r != CUDA_SUCCESS) {
		gtCaptureAbort(s);
		return r;
	}
	r = cuGraphInstantiateWithFlags(exec, g, 0);
	CUresult d = cuGraphDestroy(g);
	return r != CUDA_SUCCESS ? r : d;
}

static const char *gtErrorName(CUresult r) {
	const char *s = 0;
	if (cuGetErrorName(r, &s) != CUDA_SUCCESS || !s) return "CUDA_ERROR_UNKNOWN";
	return s;
}

static const char *gtErrorString(CUresult r) {
	const char *s = 0;
	if (cuGetErrorString(r, &s) != CUDA_SUCCESS || !s) return "unknown error";
	return s;
}

// gtMinDriver is the oldest driver API that JIT-compiles kernels.ptx:
// PTX ISA 7.8 came with CUDA 11.8 (driver R520).
enum { gtMinDriver = 11080 };

// gtDoctorArgs reports whether the command line is "PROGRAM doctor ...",
// and whether --json is among its flags: the constructor runs before Go
// has the arguments, so it reads them from /proc.
static int gtDoctorArgs(int *json) {
	static char buf[1 << 16];
	FILE *f = fopen("/proc/self/cmdline", "r");
	if (!f) return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	int doctor = 0;
	*json = 0;
	int i = 0;
	for (size_t at = 0; at < n; at += strlen(buf + at) + 1, i++) {
		const char *a = buf + at;
		if (i == 1) doctor = strcmp(a, "doctor") == 0;
		if (i > 1 && (strcmp(a, "--json") == 0 || strcmp(a, "-json") == 0 || strcmp(a, "--json=true") == 0)) *json = 1;
	}
	return doctor;
}

// gtDoctorFail is gputrain doctor's answer when the driver cannot run this
// binary at all: the driver check's line (or JSON object), as the Go side
// words its checks, then exit status 1.
static void gtDoctorFail(int json, const char *why, const char *fix) {
	if (!json) {
		printf("FAIL: driver: %s; %s\n", why, fix);
	} else {
		// why and fix are the driver's and this file's words: no quotes or
		// backslashes to escape.
		printf("{\n  \"build\": \"cuda\",\n  \"ok\": false,\n  \"checks\": [\n    {\n      \"check\": \"driver\",\n"
		       "      \"ok\": false,\n      \"detail\": \"%s\",\n      \"fix\": \"%s\"\n    }\n  ]\n}\n", why, fix);
	}
	fflush(stdout);
	fprintf(stderr, "%s doctor: 1 of 1 checks failed\n", program_invocation_short_name);
	exit(1);
}

// gtPreflight runs as the program loads, before Go's package init and so
// before gorgonia.org/cu's, which exits with a bare "NoDevice" when
// cuInit fails. It says in one line why this binary cannot run here (as
// doctor's failed driver check, for gputrain doctor).
__attribute__((constructor)) static void gtPreflight(void) {
	CUresult r = cuInit(0);
	int v = 0;
	const char *why = 0;
	const char *fix = "check that nvidia-smi works; where there is no GPU, use the CPU binary (gputrain)";
	char buf[256];
	switch (r) {
	case CUDA_SUCCESS:
		if (cuDriverGetVersion(&v) == CUDA_SUCCESS && v < gtMinDriver) {
			snprintf(buf, sizeof buf, "the NVIDIA driver supports CUDA %d.%d; this build needs CUDA 11.8 or later (driver R520+)", v / 1000, v % 1000 / 10);
			why = buf;
			fix = "install NVIDIA driver R520 or later (nvidia-smi shows the version)";
		}
		break;
	case CUDA_ERROR_NO_DEVICE:
		why = "no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)";
		fix = "check that nvidia-smi lists a GPU (in a container: docker run --gpus all; CUDA_VISIBLE_DEVICES must name one); where there is none, use the CPU binary (gputrain)";
		break;
	case CUDA_ERROR_STUB_LIBRARY:
		why = "no NVIDIA driver: the libcuda.so.1 found is the toolkit's link stub";
		fix = "install the NVIDIA driver, or take the toolkit's stubs folder off LD_LIBRARY_PATH";
		break;
	case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
		why = "the NVIDIA kernel module and its libcuda.so.1 are of different driver versions (cuInit: CUDA_ERROR_SYSTEM_DRIVER_MISMATCH)";
		fix = "reinstall the driver so that both are one version, or reboot after an upgrade";
		break;
	default:
		snprintf(buf, sizeof buf, "the CUDA driver does not start (cuInit: %s: %s)", gtErrorName(r), gtErrorString(r));
		why = buf;
	}
	if (!why) return;
	int json;
	if (gtDoctorArgs(&json)) gtDoctorFail(json, why, fix);
	fprintf(stderr, "%s: %s; this is the CUDA build of gputrain: where it cannot run, use the CPU binary (make build: bin/gputrain)\n",
		program_invocation_short_name, why);
	exit(1);
}
*/
import "C"

import (
	"fmt"
	"reflect"
	"unsafe"

	"gorgonia.org/cu"
)

// driverError is a CUDA driver API status.
type driverError C.CUresult

func (e driverError) Error() string {
	return fmt.Sprintf("%s (%s)", C.GoString(C.gtErrorString(C.CUresult(e))), C.GoString(C.gtErrorName(C.CUresult(e))))
}

func check(r C.CUresult) error {
	if r == C.CUDA_SUCCESS {
		return nil
	}
	return driverError(r)
}

// describe gives a cu error the driver's own words ("out of memory") with
// its name, as driverError does: cu's errors print only the name.
func describe(err error) error {
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Int && v.Type().PkgPath() == "gorgonia.org/cu" {
		return driverError(C.CUresult(v.Int()))
	}
	return err
}

func cStream(s cu.Stream) C.CUstream { return C.CUstream(unsafe.Pointer(s.C())) }

// hostAlloc allocates page-locked host memory, which the device copies by
// DMA and which a captured graph may copy from.
func hostAlloc(bytes int64) (unsafe.Pointer, error) {
	var p unsafe.Pointer
	if err := check(C.cuMemAllocHost(&p, C.size_t(bytes))); err != nil {
		return nil, err
	}
	return p, nil
}

func hostFree(p unsafe.Pointer) error { return check(C.cuMemFreeHost(p)) }

// driverVersion is the CUDA version the installed driver supports ("13.0").
func driverVersion() string {
	v, err := cudaVersion()
	if err != nil {
		return "unknown"
	}
	return v
}

// cudaVersion is driverVersion, or why the driver did not say.
func cudaVersion() (string, error) {
	var v C.int
	if err := check(C.cuDriverGetVersion(&v)); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d.%d", v/1000, v%1000/10), nil
}

// execGraph is an instantiated CUDA graph.
type execGraph struct{ e C.CUgraphExec }

// capture records what enqueue issues on s, without running it, and
// instantiates it. A failed capture is ended before returning.
func capture(s cu.Stream, enqueue func() error) (*execGraph, error) {
	if err := check(C.gtCaptureBegin(cStream(s))); err != nil {
		return nil, err
	}
	// A panic in enqueue must not leave the stream capturing: every later
	// use of it would fail.
	ended := false
	defer func() {
		if !ended {
			C.gtCaptureAbort(cStream(s))
		}
	}()
	err := enqueue()
	g := &execGraph{}
	ended = true
	if endErr := check(C.gtCaptureEnd(cStream(s), &g.e)); err == nil {
		err = endErr
	}
	if err != nil {
		if g.e != nil {
			C.cuGraphExecDestroy(g.e)
		}
		return nil, err
	}
	return g, nil
}

func (g *execGraph) launch(s cu.Stream) error { return check(C.cuGraphLaunch(g.e, cStream(s))) }

func (g *execGraph) destroy() error {
	if g == nil || g.e == nil {
		return nil
	}
	err := check(C.cuGraphExecDestroy(g.e))
	g.e = nil
	return err
}
