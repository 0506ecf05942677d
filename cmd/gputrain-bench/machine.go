package main

import (
	"bufio"
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
	CPU, CPUFlags, Virtual string
	Cores                  int
	MHz                    string
	Memory                 string
	OS, Kernel             string
	Go                     string
	Python, Numpy, Torch   string
	BLAS                   string
	GPU                    string
	Date                   string
}

// cpuInfo picks the fields of the first processor in /proc/cpuinfo.
func cpuInfo(text string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			break // the end of the first processor's block
		}
		k, v, ok := strings.Cut(line, ":")
		if ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// vectorFlags lists the SIMD features that bound the arithmetic peak.
func vectorFlags(flags string) string {
	have := map[string]bool{}
	for _, f := range strings.Fields(flags) {
		have[f] = true
	}
	var out []string
	for _, f := range []string{"avx", "avx2", "fma", "avx512f"} {
		if have[f] {
			out = append(out, strings.ToUpper(f))
		}
	}
	if len(out) == 0 {
		return "no AVX"
	}
	return strings.Join(out, ", ")
}

func describeMachine(python string) machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		ci := cpuInfo(string(b))
		m.CPU = ci["model name"]
		if fam, model := ci["cpu family"], ci["model"]; fam != "" {
			m.CPU += fmt.Sprintf(" (family %s, model %s)", fam, model)
		}
		m.CPUFlags = vectorFlags(ci["flags"])
		if strings.Contains(" "+ci["flags"]+" ", " hypervisor ") {
			m.Virtual = "virtual machine"
		}
		if mhz, err := strconv.ParseFloat(ci["cpu MHz"], 64); err == nil {
			m.MHz = fmt.Sprintf("%.0f MHz", mhz)
		}
	}
	if m.CPU == "" {
		m.CPU = runtime.GOARCH
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					m.Memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	m.OS = runtime.GOOS
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Python = command(python, "-c", "import platform; print(platform.python_version())")
	m.Numpy = command(python, "-c", "import numpy; print(numpy.__version__)")
	m.Torch = command(python, "-c", "import torch; print(torch.__version__)")
	m.BLAS = blasName()
	m.GPU = "none"
	if out := command("nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"); out != "" {
		m.GPU = out
	}
	return m
}

// blasName says which libblas.so.3 Debian's alternatives give numpy and
// torch: it decides their matrix-product speed.
func blasName() string {
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/aarch64-linux-gnu/libblas.so.3"} {
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue
		}
		switch {
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

// command runs a short probe and returns its trimmed output, "" on failure.
func command(name string, args ...string) string {
	return strings.TrimSpace(commandWithEnv(nil, name, args...))
}

// commandWithEnv runs a probe with extra environment variables.
func commandWithEnv(extra []string, name string, args ...string) string {
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
	return string(out)
}

// markdown renders the machine as a list.
func (m machine) markdown() string {
	or := func(s, dflt string) string {
		if s == "" {
			return dflt
		}
		return s
	}
	var b strings.Builder
	cpu := m.CPU
	if m.MHz != "" {
		cpu += ", " + m.MHz
	}
	fmt.Fprintf(&b, "- CPU: %s; %d cores; %s", cpu, m.Cores, m.CPUFlags)
	if m.Virtual != "" {
		fmt.Fprintf(&b, "; %s", m.Virtual)
	}
	fmt.Fprintf(&b, "\n- Memory: %s\n", or(m.Memory, "unknown"))
	fmt.Fprintf(&b, "- OS: %s, Linux %s\n", m.OS, or(m.Kernel, "?"))
	fmt.Fprintf(&b, "- GPU: %s\n", m.GPU)
	fmt.Fprintf(&b, "- Go: %s\n", m.Go)
	fmt.Fprintf(&b, "- Python: %s; numpy %s; torch %s; BLAS behind both: %s\n",
		or(m.Python, "absent"), or(m.Numpy, "absent"), or(m.Torch, "absent"), m.BLAS)
	fmt.Fprintf(&b, "- Date: %s\n", m.Date)
	return b.String()
}
