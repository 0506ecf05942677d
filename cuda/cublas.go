package cuda

import (
	"path/filepath"
	"strings"
)

// cuBLAS is found when the backend opens, not when the binary is linked,
// so one binary built against any toolkit's headers runs with whichever
// cuBLAS a machine has: the backend uses only cuBLAS v2 entry points that
// CUDA 11.8, 12 and 13 all export.

// cublasSonames are the library names tried, newest first.
var cublasSonames = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}

// cublasDirs are the toolkit folders searched after the dynamic linker's
// own search path: where NVIDIA's installers and images put the libraries.
var cublasDirs = []string{"/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"}

// The environment variables that steer the search.
const (
	// envCuBLAS names one library file; nothing else is tried.
	envCuBLAS = "GPUTRAIN_CUBLAS"
	// envCuBLASDir names a Python site-packages folder (or any folder)
	// holding NVIDIA's pip wheel (nvidia/cublas/lib); searched first.
	envCuBLASDir = "GPUTRAIN_CUBLAS_DIR"
)

// cublasCandidates lists what to hand dlopen, in order: a bare soname is
// looked up on the library search path (LD_LIBRARY_PATH, the ld.so cache),
// a path is opened as it is.
func cublasCandidates(getenv func(string) string) []string {
	if p := getenv(envCuBLAS); p != "" {
		return []string{p}
	}
	var dirs []string
	if d := getenv(envCuBLASDir); d != "" {
		dirs = append(dirs, filepath.Join(d, "nvidia", "cublas", "lib"), d)
	}
	var out []string
	for _, d := range dirs {
		for _, name := range cublasSonames {
			out = append(out, filepath.Join(d, name))
		}
	}
	for _, name := range cublasSonames {
		out = append(out, name)
		for _, d := range cublasDirs {
			out = append(out, filepath.Join(d, name))
		}
	}
	return out
}

// cublasMissing is the one line said when no candidate loads: every place
// searched, what was found but would not load, and how to install cuBLAS.
func cublasMissing(getenv func(string) string, failures []string) string {
	if p := getenv(envCuBLAS); p != "" {
		return "cuda: " + envCuBLAS + "=" + p + " does not load: " + strings.Join(failures, "; ")
	}
	found := ""
	if len(failures) > 0 {
		found = " (found but not loaded: " + strings.Join(failures, "; ") + ")"
	}
	where := "the library search path, " + strings.Join(cublasDirs, ", ")
	if d := getenv(envCuBLASDir); d != "" {
		where = filepath.Join(d, "nvidia", "cublas", "lib") + ", " + d + ", " + where
	}
	return "cuda: no cuBLAS library found (looked for " + strings.Join(cublasSonames, ", ") + " in " + where + ")" + found + ": " +
		"install the CUDA toolkit or its cuBLAS package (Debian: apt-get install libcublas11; Ubuntu with NVIDIA's repository: libcublas-12-x), " +
		"or pip install nvidia-cublas-cu12 and set " + envCuBLASDir + " to that Python's site-packages, " +
		"or set " + envCuBLAS + "=/path/to/libcublas.so.N"
}
