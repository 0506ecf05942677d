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

// vectorFlags lists the SIMD features that bound the arithmetic peak.
func vectorFlags(flags string) string {
	var out []string
	for _, f := range []string{"avx", "avx2", "fma", "avx512f"} {
		if strings.Contains(" "+flags+" ", " "+f+" ") {
			out = append(out, strings.ToUpper(f))
		}
	}
	return cmp.Or(strings.Join(out, ", "), "no AVX")
}

// describeCPU is the CPU line, from the first processor of /proc/cpuinfo:
// model, clock, cores, SIMD, and whether it is a virtual machine's.
func describeCPU(cpuinfo string) string {
	ci := map[string]string{}
	first, _, _ := strings.Cut(cpuinfo, "\n\n")
	for _, line := range strings.Split(first, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			ci[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	cpu := cmp.Or(ci["model name"], runtime.GOARCH)
	if ci["cpu family"] != "" {
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

// readFile is a file's text, "" if it cannot be read.
func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// field returns the value after prefix on a line of a file, "" if none.
func field(path, prefix string) string {
	for _, line := range strings.Split(readFile(path), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// pythonVersions prints the versions of Python, numpy and torch.
const pythonVersions = `import importlib, platform
def v(m):
    try: return importlib.import_module(m).__version__
    except Exception: return "absent"
print(platform.python_version(), v("numpy"), v("torch"))`

// describeMachine is where the numbers were taken, as a markdown list.
func describeMachine(python string) string {
	mem := "unknown"
	if kb, err := strconv.ParseFloat(strings.TrimSuffix(field("/proc/meminfo", "MemTotal:"), " kB"), 64); err == nil {
		mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
	}
	py := strings.Fields(command(nil, python, "-c", pythonVersions))
	if len(py) != 3 {
		py = []string{"absent", "absent", "absent"}
	}
	return fmt.Sprintf("- CPU: %s\n- Memory: %s\n- OS: %s, Linux %s\n- GPU: %s\n- Go: %s\n"+
		"- Python: %s; numpy %s; torch %s; BLAS behind both: %s\n- Date: %s\n",
		describeCPU(readFile("/proc/cpuinfo")), mem, cmp.Or(field("/etc/os-release", "PRETTY_NAME="), runtime.GOOS),
		cmp.Or(strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")), "?"),
		cmp.Or(command(nil, "nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"), "none"),
		runtime.Version(), py[0], py[1], py[2], blasName(), time.Now().UTC().Format("2006-01-02 15:04 UTC"))
}

// blasName says which libblas.so.3 Debian's alternatives give numpy and
// torch (the directory of the library it links to): it decides their
// matrix-product speed.
func blasName() string {
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/aarch64-linux-gnu/libblas.so.3"} {
		if target, err := filepath.EvalSymlinks(p); err == nil && filepath.Base(filepath.Dir(target)) == "blas" {
			return "reference BLAS (netlib, unoptimised)"
		} else if err == nil {
			return filepath.Base(filepath.Dir(target))
		}
	}
	return "unknown"
}

// command runs a short probe, with extra environment variables if any,
// and returns its trimmed output, "" on failure.
func command(extra []string, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if extra != nil {
		cmd.Env = append(os.Environ(), extra...)
	}
	out, err := cmd.Output()
	if err != nil {
		return "" // what a failed probe printed is no answer
	}
	return strings.TrimSpace(string(out))
}
