package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/cuda"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// doctorReport is what gputrain doctor --json prints.
type doctorReport struct {
	Build  string       `json:"build"` // cpu or cuda
	OK     bool         `json:"ok"`
	Checks []cuda.Check `json:"checks"`
}

// runDoctor says, one line per check, whether this machine can run this
// build and, for the CUDA build, whether it trains as the CPU does: the
// first thing to run when a GPU does not work. Exit status 0 only if every
// check passed.
func runDoctor(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("gputrain doctor")
	asJSON := fs.Bool("json", false, "print the checks as one JSON object")
	ptx := fs.String("ptx", "", "the CUDA build: check this PTX file loads, in place of the embedded kernels.ptx")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	if *ptx != "" && !cuda.Available {
		return cli.Usagef("--ptx: only the CUDA build (gputrain-cuda) loads kernels")
	}
	r := doctorReport{Build: "cpu", Checks: []cuda.Check{{Name: "CPU kernels", OK: true, Detail: cpu.Describe()}}}
	if cuda.Available {
		r.Build = "cuda"
		r.Checks = append(r.Checks, cuda.Doctor(*ptx)...)
		r.Checks = append(r.Checks, smokeCheck(r.Checks))
	} else {
		r.Checks = append(r.Checks, driverCheck(), cudaBuildCheck())
	}
	failed := 0
	for _, c := range r.Checks {
		if !c.OK {
			failed++
		}
	}
	r.OK = failed == 0
	if *asJSON {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		for _, c := range r.Checks {
			fmt.Fprintln(stdout, c)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(r.Checks))
	}
	return nil
}

// Where the CPU build looks for the NVIDIA driver's user-space library
// besides LD_LIBRARY_PATH and the ld.so cache (WSL puts it in its own).
var driverLibDirs = []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/lib/wsl/lib"}

// ldCache is the dynamic linker's cache, which lists libcuda.so.1 where
// the driver's packages installed it elsewhere.
var ldCache = "/etc/ld.so.cache"

// driverCheck, in the CPU build: is there an NVIDIA driver for the CUDA
// build to use? None is no failure: the CPU backend needs none.
func driverCheck() cuda.Check {
	var found []string
	if b, err := os.ReadFile("/proc/driver/nvidia/version"); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		found = append(found, "/proc/driver/nvidia/version: "+strings.Join(strings.Fields(first), " "))
	}
	if lib := findDriverLib(); lib != "" {
		found = append(found, "libcuda.so.1 in "+lib)
	}
	if len(found) == 0 {
		return cuda.Check{Name: "NVIDIA driver", OK: true,
			Detail: "none here (no /proc/driver/nvidia/version, no libcuda.so.1 on the library search path): this machine trains on the CPU, which needs none"}
	}
	return cuda.Check{Name: "NVIDIA driver", OK: true, Detail: strings.Join(found, "; ")}
}

// findDriverLib is where libcuda.so.1 is on the dynamic linker's search
// path, or "".
func findDriverLib() string {
	dirs := filepath.SplitList(os.Getenv("LD_LIBRARY_PATH"))
	for _, d := range append(dirs, driverLibDirs...) {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "libcuda.so.1")); err == nil {
			return d
		}
	}
	if b, err := os.ReadFile(ldCache); err == nil && bytes.Contains(b, []byte("libcuda.so.1\x00")) {
		return "the ld.so cache"
	}
	return ""
}

// cudaBuildCheck, in the CPU build: where the CUDA build is, which
// --device cuda runs, or how to get it.
func cudaBuildCheck() cuda.Check {
	if bin := findCUDABinary(); bin != "" {
		return cuda.Check{Name: "CUDA build", OK: true,
			Detail: bin + " runs gputrain --device cuda in this binary's place; " + bin + " doctor checks the GPU"}
	}
	how := "none beside this binary or on PATH: make cuda builds bin/gputrain-cuda (needs the CUDA toolkit), make gpu-kit a kit for a machine without Go, make docker a container; then run gputrain-cuda doctor"
	if _, err := exec.LookPath("nvidia-smi"); err == nil {
		how += " (nvidia-smi is here: this machine has a GPU to use)"
	}
	return cuda.Check{Name: "CUDA build", OK: true, Detail: how}
}

// smokeSteps is the length of doctor's training run on both backends.
const smokeSteps = 20

// smokeCheck trains chapter 1's [784,30,10] for smokeSteps steps of 10
// random images in float64 on the device and on the CPU from one network,
// through the public Trainer API, and compares the parameters. It runs
// only when every check before it passed.
func smokeCheck(before []cuda.Check) cuda.Check {
	name := fmt.Sprintf("smoke test (%d steps on the device and on the CPU)", smokeSteps)
	for _, c := range before {
		if !c.OK {
			return cuda.Check{Name: name, Detail: "not run: the " + c.Name + " check failed", Fix: "fix that first"}
		}
	}
	const batch = 10
	r := rand.New(rand.NewPCG(20, 2))
	set := &mnist.Set{Images: make([]uint8, smokeSteps*batch*mnist.Pixels), Labels: make([]uint8, smokeSteps*batch)}
	for i := range set.Images {
		if r.IntN(4) == 0 {
			set.Images[i] = uint8(r.IntN(256))
		}
	}
	for i := range set.Labels {
		set.Labels[i] = uint8(r.IntN(10))
	}
	order := make([]int32, set.Len())
	for i := range order {
		order[i] = int32(i)
	}
	cfg := train.Config{Spec: network.Book([]int{784, 30, 10}), TrainSize: set.Len(), BatchSize: batch, Eta: 3, Dtype: graph.Float64}
	start, err := network.New(cfg.Sizes, 20)
	if err != nil {
		return cuda.Check{Name: name, Detail: err.Error()}
	}
	trained := func(open train.Opener) (*network.Network, error) {
		b, err := open(cfg, set)
		if err != nil {
			return nil, err
		}
		defer b.Close()
		if err := b.SetNetwork(start); err != nil {
			return nil, err
		}
		if _, err := b.Epoch(context.Background(), order, nil); err != nil {
			return nil, err
		}
		return b.Network()
	}
	want, err := trained(cpu.Open)
	if err != nil {
		return cuda.Check{Name: name, Detail: "the CPU backend: " + err.Error(), Fix: "please report it"}
	}
	got, err := trained(cuda.Open)
	if err != nil {
		return cuda.Check{Name: name, Detail: err.Error(), Fix: "the line above it says what the device lacks; else please report it with this output"}
	}
	// float64 on both: they differ only in the order of sums (2.9e-15 after
	// 100 steps on the stand-in), far inside this bound.
	const bound = 1e-9
	d, moved := got.RelDiff(want), want.RelDiff(start)
	detail := fmt.Sprintf("[784,30,10], batch 10, float64: the parameters differ by %.3g relative (want <= %g; training moved them %.3g)", d, bound, moved)
	if !(d <= bound) {
		return cuda.Check{Name: name, Detail: detail, Fix: "the GPU computes differently from the CPU: please report it with this output"}
	}
	return cuda.Check{Name: name, OK: true, Detail: detail}
}
