package cuda

import (
	"path/filepath"
	"slices"
	"strings"
)

// cuBLAS is found when the backend opens, not when the binary is linked,
// so one binary built against any toolkit's headers runs with whichever
// cuBLAS a machine has: the backend uses only cuBLAS v2 entry points that
// CUDA 11.8, 12 and 13 all export.

// cublasSonames are the library names tried, newest first.
var cublasSonames = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}

// cublasDirs are the toolkit folders searched last: where NVIDIA's
// installers and images put the libraries (sbsa-linux on arm64 servers
// such as Grace Hopper).
var cublasDirs = []string{"/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/local/cuda/targets/sbsa-linux/lib"}

// The environment variables that steer the search.
const (
	// envCuBLAS names one library file; nothing else is tried.
	envCuBLAS = "GPUTRAIN_CUBLAS"
	// envCuBLASDir names a Python site-packages folder holding NVIDIA's
	// cuBLAS wheel (either layout), or a folder holding the library itself;
	// searched first.
	envCuBLASDir = "GPUTRAIN_CUBLAS_DIR"
)

// cublasPlace is one step of the search: the folders it looks in ("" for
// the dynamic linker's own search, which ends in the ld.so cache) and what
// put them there.
type cublasPlace struct {
	from string
	dirs []string
}

// wheelDirs are the folders NVIDIA's cuBLAS wheel may have put the library
// in under a site-packages folder: CUDA 13's nvidia-cublas in nvidia/cu13/lib
// (next to the other CUDA 13 libraries), CUDA 12's nvidia-cublas-cu12 in
// nvidia/cublas/lib, and any later nvidia/cuNN/lib.
func wheelDirs(site string, glob func(string) ([]string, error)) []string {
	dirs := []string{filepath.Join(site, "nvidia", "cu13", "lib"), filepath.Join(site, "nvidia", "cublas", "lib")}
	more, _ := glob(filepath.Join(site, "nvidia", "cu*", "lib"))
	slices.Sort(more)
	slices.Reverse(more) // cu14 before cu13
	for _, d := range more {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// cublasPlaces is the search, in order: the folder the user names, each
// LD_LIBRARY_PATH folder, the active Python environment's wheels (a virtual
// environment's or conda's, whose lib/ may hold the library itself), the
// dynamic linker's search (the ld.so cache), the toolkit folders. glob
// lists the folders that match a pattern (filepath.Glob).
func cublasPlaces(getenv func(string) string, glob func(string) ([]string, error)) []cublasPlace {
	var places []cublasPlace
	if d := getenv(envCuBLASDir); d != "" {
		places = append(places, cublasPlace{envCuBLASDir, append(wheelDirs(d, glob), d)})
	}
	var ld []string
	for _, d := range filepath.SplitList(getenv("LD_LIBRARY_PATH")) {
		if d != "" && !slices.Contains(ld, d) {
			ld = append(ld, d)
		}
	}
	if len(ld) > 0 {
		places = append(places, cublasPlace{"LD_LIBRARY_PATH", ld})
	}
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		prefix := getenv(env)
		if prefix == "" {
			continue
		}
		dirs := []string{filepath.Join(prefix, "lib")}
		sites, _ := glob(filepath.Join(prefix, "lib", "python3*", "site-packages"))
		slices.Sort(sites)
		slices.Reverse(sites) // python3.13 before python3.12
		for _, s := range sites {
			dirs = append(dirs, wheelDirs(s, glob)...)
		}
		places = append(places, cublasPlace{env, dirs})
	}
	places = append(places, cublasPlace{"the ld.so cache", []string{""}}, cublasPlace{"the CUDA toolkit", cublasDirs})
	return places
}

// cublasCandidates lists what to hand dlopen, in order: within each place
// the newest soname first, in each of its folders; a bare soname is looked
// up by the dynamic linker, a path is opened as it is. GPUTRAIN_CUBLAS alone
// when set.
func cublasCandidates(getenv func(string) string, glob func(string) ([]string, error)) []string {
	if p := getenv(envCuBLAS); p != "" {
		return []string{p}
	}
	var out []string
	for _, p := range cublasPlaces(getenv, glob) {
		for _, name := range cublasSonames {
			for _, d := range p.dirs {
				out = append(out, filepath.Join(d, name))
			}
		}
	}
	return out
}

// cublasSearched words every place searched, for doctor and the error
// when none loads.
func cublasSearched(getenv func(string) string, glob func(string) ([]string, error)) string {
	if p := getenv(envCuBLAS); p != "" {
		return envCuBLAS + "=" + p
	}
	var parts []string
	for _, p := range cublasPlaces(getenv, glob) {
		if len(p.dirs) == 1 && p.dirs[0] == "" {
			parts = append(parts, p.from)
			continue
		}
		parts = append(parts, p.from+": "+strings.Join(p.dirs, ", "))
	}
	return strings.Join(parts, "; ")
}

// cublasMissing is the one line said when no candidate loads: every place
// searched, what was found but would not load, and how to install cuBLAS.
func cublasMissing(getenv func(string) string, glob func(string) ([]string, error), failures []string) string {
	if p := getenv(envCuBLAS); p != "" {
		return "cuda: " + envCuBLAS + "=" + p + " does not load: " + strings.Join(failures, "; ")
	}
	found := ""
	if len(failures) > 0 {
		found = " (found but passed over: " + strings.Join(failures, "; ") + ")"
	}
	return "cuda: no cuBLAS library found (looked for " + strings.Join(cublasSonames, ", ") + " in " + cublasSearched(getenv, glob) + ")" + found + ": " +
		"install the CUDA toolkit or its cuBLAS package (Debian: apt-get install libcublas11; Ubuntu with NVIDIA's repository: libcublas-12-x or libcublas-13-x), " +
		"or pip install nvidia-cublas (CUDA 13) or nvidia-cublas-cu12 in the active virtual environment, or set " + envCuBLASDir + " to that Python's site-packages, " +
		"or set " + envCuBLAS + "=/path/to/libcublas.so.N"
}
