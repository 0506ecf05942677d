package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machine describes where the numbers were taken, for BENCHMARKS.md.
type machine struct {
	CPU, Memory, OS, GPU, Python, Numpy, Torch, BLAS, Date string
}

// cpuInfo picks the fields of the first processor in /proc/cpuinfo.
func cpuInfo(text string) map[string]string {
	out := map[string]string{}
	first, _, _ := strings.Cut(text, "\n\n")
	for _, line := range strings.Split(first, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// vectorFlags lists the SIMD features that bound the arithmetic peak.
func vectorFlags(flags string) string {
	var out []string
	for _, f := range []string{"avx", "avx2", "fma", "avx512f"} {
		if strings.Contains(" "+flags+" ", " "+f+" ") {
			out = append(out, strings.ToUpper(f))
		}
	}
	if len(out) == 0 {
		return "no AVX"
	}
	return strings.Join(out, ", ")
}

// describeCPU is the CPU line: model, clock, cores, SIMD, and whether it
// is a virtual machine's.
func describeCPU(cpuinfo string) string {
	ci := cpuInfo(cpuinfo)
	cpu := ci["model name"]
	if cpu == "" {
		cpu = runtime.GOARCH
	} else if ci["cpu family"] != "" {
		cpu += fmt.Sprintf(" (family %s, model %s)", ci["cpu family"], ci["model"])
	}
	if mhz, err := strconv.ParseFloat(ci["cpu MHz"], 64); err == nil {
		cpu += fmt.Sprintf(", %.0f MHz", mhz)
	}
	cpu += fmt.Sprintf("; %d cores; %s", runtime.NumCPU(), vectorFlags(ci["flags"]))
	if strings.Contains(" "+ci["flags"]+" ", " hypervisor ") {
		cpu += "; virtual machine"
	}
	return cpu
}

// field returns the value after prefix on a line of a file, "" if none.
func field(path, prefix string) string {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

func describeMachine(python string) machine {
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	m := machine{CPU: describeCPU(string(cpuinfo)), Memory: "unknown", OS: runtime.GOOS, Python: "absent", Numpy: "absent",
		Torch: "absent", Date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	if kb, err := strconv.ParseFloat(strings.TrimSuffix(field("/proc/meminfo", "MemTotal:"), " kB"), 64); err == nil {
		m.Memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
	}
	if name := field("/etc/os-release", "PRETTY_NAME="); name != "" {
		m.OS = name
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	m.OS += ", Linux " + cmp.Or(strings.TrimSpace(string(kernel)), "?")
	if v := strings.Fields(command(python, "-c", pythonVersions)); len(v) == 3 {
		m.Python, m.Numpy, m.Torch = v[0], v[1], v[2]
	}
	m.BLAS = blasName()
	m.GPU = cmp.Or(command("nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"), "none")
	return m
}

// pythonVersions prints the versions of Python, numpy and torch.
const pythonVersions = `import importlib, platform
def v(m):
    try: return importlib.import_module(m).__version__
    except Exception: return "absent"
print(platform.python_version(), v("numpy"), v("torch"))`

// blasName says which libblas.so.3 Debian's alternatives give numpy and
// torch: it decides their matrix-product speed.
func blasName() string {
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/aarch64-linux-gnu/libblas.so.3"} {
		target, err := filepath.EvalSymlinks(p)
		switch {
		case err != nil:
			continue
		case strings.Contains(target, "openblas"):
			return "OpenBLAS (" + filepath.Base(filepath.Dir(target)) + ")"
		case strings.Contains(target, "blis"):
			return "BLIS (" + filepath.Base(filepath.Dir(target)) + ")"
		case strings.Contains(target, "atlas"):
			return "ATLAS"
		case strings.Contains(target, "/blas/"):
			return "reference BLAS (netlib, unoptimised)"
		}
		return target
	}
	return "unknown"
}

// command runs a short probe, with extra environment variables if any,
// and returns its trimmed output, "" on failure.
func command(name string, args ...string) string { return commandEnv(nil, name, args...) }

func commandEnv(extra []string, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if extra != nil {
		cmd.Env = append(os.Environ(), extra...)
	}
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// markdown renders the machine as a list.
func (m machine) markdown() string {
	return fmt.Sprintf("- CPU: %s\n- Memory: %s\n- OS: %s\n- GPU: %s\n- Go: %s\n"+
		"- Python: %s; numpy %s; torch %s; BLAS behind both: %s\n- Date: %s\n",
		m.CPU, m.Memory, m.OS, m.GPU, runtime.Version(), m.Python, m.Numpy, m.Torch, m.BLAS, m.Date)
}
