//go:build gpu

package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gorgonia.org/cu"

	"github.com/gputrain/gputrain/graph"
)

// Doctor checks what the backend needs of this machine, one Check each:
// the driver, every device, cuBLAS (the file loaded and every place
// searched) and that the kernels (the embedded kernels.ptx, or the file
// ptxFile when not "") load on device 0, with the JIT's log when it does not. The driver
// itself was checked as the program loaded (gtPreflight), which says why
// and exits when it cannot run at all.
func Doctor(ptxFile string) []Check {
	var out []Check
	version, err := cudaVersion()
	if err != nil {
		return append(out, Check{Name: "driver", Detail: "cuDriverGetVersion: " + describe(err).Error(),
			Fix: "reinstall the NVIDIA driver (nvidia-smi should list the GPU)"})
	}
	out = append(out, Check{Name: "driver", OK: true, Detail: fmt.Sprintf("supports CUDA %s (cuDriverGetVersion %d)", version, cu.Version())})
	n, err := cu.NumDevices()
	if err != nil || n == 0 {
		why := "none"
		if err != nil {
			why = describe(err).Error()
		}
		return append(out, Check{Name: "devices", Detail: "cuDeviceGetCount: " + why,
			Fix: "check that nvidia-smi lists a GPU (in a container: docker run --gpus all), or CUDA_VISIBLE_DEVICES"})
	}
	for i := range n {
		out = append(out, deviceCheck(cu.Device(i)))
	}
	release, err := primaryContext(cu.Device(0))
	if err != nil {
		return append(out, Check{Name: "context", Detail: "device 0: " + err.Error(), Fix: "check nvidia-smi for the device's state (exclusive mode, errors)"})
	}
	defer release()
	out = append(out, cublasCheck())
	return append(out, ptxCheck(ptxFile))
}

func deviceCheck(dev cu.Device) Check {
	name := fmt.Sprintf("device %d", int(dev))
	model, err := dev.Name()
	if err != nil {
		return Check{Name: name, Detail: "cuDeviceGetName: " + describe(err).Error(), Fix: "check nvidia-smi for the device's state"}
	}
	var cc [2]int
	for i, a := range []cu.DeviceAttribute{cu.ComputeCapabilityMajor, cu.ComputeCapabilityMinor} {
		if cc[i], err = dev.Attribute(a); err != nil {
			return Check{Name: name, Detail: model + ": compute capability: " + describe(err).Error(), Fix: "check nvidia-smi for the device's state"}
		}
	}
	mem, err := dev.TotalMem()
	if err != nil {
		return Check{Name: name, Detail: model + ": memory: " + describe(err).Error(), Fix: "check nvidia-smi for the device's state"}
	}
	detail := fmt.Sprintf("%s, compute capability %d.%d, %s", model, cc[0], cc[1], size(mem))
	if cc[0] < 6 {
		return Check{Name: name, Detail: detail + ": the kernels are PTX for compute_60 (Pascal) and later",
			Fix: "use a newer GPU (CUDA_VISIBLE_DEVICES picks another) or the CPU binary"}
	}
	return Check{Name: name, OK: true, Detail: detail}
}

// cublasCheck says which cuBLAS loaded and from where, what was passed
// over, and every place searched.
func cublasCheck() Check {
	searched := "searched " + cublasSearched(os.Getenv, filepath.Glob)
	f, err := loadCuBLAS()
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "cuda: ")
		why, fix, _ := strings.Cut(msg, ": install")
		if fix != "" {
			fix = "install" + fix
		}
		return Check{Name: "cuBLAS", Detail: why, Fix: fix}
	}
	detail := fmt.Sprintf("%s from %s (%s", blasVersion(f.version), f.path, searched)
	if len(f.passed) > 0 {
		detail += "; passed over: " + strings.Join(f.passed, "; ")
	}
	return Check{Name: "cuBLAS", OK: true, Detail: detail + ")"}
}

// ptxCheck loads the kernels on device 0, as the backend does, finds every
// entry it launches, and unloads them.
func ptxCheck(file string) Check {
	what := "kernels.ptx (embedded)"
	src := kernelsPTX
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return Check{Name: "PTX", Detail: err.Error(), Fix: "name a readable PTX file"}
		}
		what, src = file, string(b)
	}
	what += " for " + ptxTargetOf(src)
	mod, log, err := loadPTX(src)
	if err != nil {
		return Check{Name: "PTX", Detail: fmt.Sprintf("%s does not load on device 0: %v%s", what, describe(err), log),
			Fix: "a driver older than the PTX's ISA cannot compile it: update the driver; a stale kernels.ptx is rebuilt with make ptx"}
	}
	defer mod.Unload()
	for _, base := range kernelBases {
		for _, dt := range []graph.Dtype{graph.Float32, graph.Float64} {
			if _, err := mod.Function(kernelName(base, dt)); err != nil {
				return Check{Name: "PTX", Detail: fmt.Sprintf("%s loads but lacks kernel %s: %v", what, kernelName(base, dt), describe(err)),
					Fix: "rebuild kernels.ptx with make ptx"}
			}
		}
	}
	return Check{Name: "PTX", OK: true, Detail: what + " loads on device 0 (JIT-compiled by the driver)"}
}
