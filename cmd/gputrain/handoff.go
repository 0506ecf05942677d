package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// cudaBinary is the name of the CUDA build, which the CPU build hands a
// --device cuda run to: make cuda, make install and the container put it
// beside gputrain.
const cudaBinary = "gputrain-cuda"

// wantsCUDA reports whether train's arguments ask for --device cuda (in any
// of the flag package's spellings), up to a "--" that ends the flags.
func wantsCUDA(args []string) bool {
	for i, a := range args {
		if a == "--" {
			return false
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "device" {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return false
			}
			value = args[i+1]
		}
		if value == "cuda" {
			return true
		}
	}
	return false
}

// findCUDABinary is the gputrain-cuda to hand a run to: the one beside this
// executable first (an install puts both in one folder), then the first on
// PATH; "" when there is none, or when it would be this program itself.
func findCUDABinary() string {
	self, err := os.Executable()
	if err != nil {
		return ""
	}
	candidates := []string{filepath.Join(filepath.Dir(self), cudaBinary)}
	if p, err := exec.LookPath(cudaBinary); err == nil {
		candidates = append(candidates, p)
	}
	for _, c := range candidates {
		st, err := os.Stat(c)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			continue
		}
		if me, err := os.Stat(self); err == nil && os.SameFile(me, st) {
			continue
		}
		if abs, err := filepath.Abs(c); err == nil {
			return abs
		}
	}
	return ""
}
