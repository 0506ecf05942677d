package cuda

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// globIn is filepath.Glob answering from a fixed list of folders, so that
// the order can be checked without making them.
func globIn(dirs ...string) func(string) ([]string, error) {
	return func(pattern string) ([]string, error) {
		var out []string
		for _, d := range dirs {
			if ok, _ := filepath.Match(pattern, d); ok {
				out = append(out, d)
			}
		}
		return out, nil
	}
}

// TestCuBLASPlaces: the order the issue asks for, written out plainly:
// GPUTRAIN_CUBLAS_DIR (both wheel layouts and any nvidia/cu*/lib, then the
// folder itself), each LD_LIBRARY_PATH folder, the virtual environment's and
// conda's lib/ and wheels (newest Python first), the ld.so cache, the
// toolkit folders.
func TestCuBLASPlaces(t *testing.T) {
	env := map[string]string{
		envCuBLASDir:      "/site",
		"LD_LIBRARY_PATH": "/a::/b:/a",
		"VIRTUAL_ENV":     "/venv",
		"CONDA_PREFIX":    "/conda",
	}
	glob := globIn("/site/nvidia/cu13/lib", "/site/nvidia/cublas/lib", "/site/nvidia/cu14/lib", "/site/nvidia/cufft/lib",
		"/venv/lib/python3.12/site-packages", "/venv/lib/python3.13/site-packages", "/venv/lib/python3.13/site-packages/nvidia/cu13/lib")
	want := []cublasPlace{
		{envCuBLASDir, []string{"/site/nvidia/cu13/lib", "/site/nvidia/cublas/lib", "/site/nvidia/cufft/lib", "/site/nvidia/cu14/lib", "/site"}},
		{"LD_LIBRARY_PATH", []string{"/a", "/b"}},
		{"VIRTUAL_ENV", []string{"/venv/lib",
			"/venv/lib/python3.13/site-packages/nvidia/cu13/lib", "/venv/lib/python3.13/site-packages/nvidia/cublas/lib",
			"/venv/lib/python3.12/site-packages/nvidia/cu13/lib", "/venv/lib/python3.12/site-packages/nvidia/cublas/lib"}},
		{"CONDA_PREFIX", []string{"/conda/lib"}},
		{"the ld.so cache", []string{""}},
		{"the CUDA toolkit", cublasDirs},
	}
	got := cublasPlaces(func(k string) string { return env[k] }, glob)
	if len(got) != len(want) {
		t.Fatalf("places %q\nwant %q", got, want)
	}
	for i := range want {
		if got[i].from != want[i].from || !slices.Equal(got[i].dirs, want[i].dirs) {
			t.Errorf("place %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// TestCuBLASCandidates: a named file alone; else within each place the
// newest soname first, in each of its folders.
func TestCuBLASCandidates(t *testing.T) {
	none := globIn()
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"override", map[string]string{envCuBLAS: "/opt/x/libcublas.so.12", envCuBLASDir: "/site"}, []string{"/opt/x/libcublas.so.12"}},
		{"default", nil, []string{
			"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so",
			"/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.13", "/usr/local/cuda/targets/sbsa-linux/lib/libcublas.so.13",
			"/usr/local/cuda/lib64/libcublas.so.12", "/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.12", "/usr/local/cuda/targets/sbsa-linux/lib/libcublas.so.12",
			"/usr/local/cuda/lib64/libcublas.so.11", "/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.11", "/usr/local/cuda/targets/sbsa-linux/lib/libcublas.so.11",
			"/usr/local/cuda/lib64/libcublas.so", "/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so", "/usr/local/cuda/targets/sbsa-linux/lib/libcublas.so",
		}},
		{"wheel", map[string]string{envCuBLASDir: "/site"}, []string{
			"/site/nvidia/cu13/lib/libcublas.so.13", "/site/nvidia/cublas/lib/libcublas.so.13", "/site/libcublas.so.13",
			"/site/nvidia/cu13/lib/libcublas.so.12", "/site/nvidia/cublas/lib/libcublas.so.12", "/site/libcublas.so.12",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := cublasCandidates(func(k string) string { return c.env[k] }, none)
			if !slices.Equal(got[:min(len(got), len(c.want))], c.want) {
				t.Errorf("candidates\n%q\nwant them to start\n%q", got, c.want)
			}
		})
	}
}

// TestCuBLASCandidatesOnDisk: the wheel layouts found in real folders (a
// CUDA 12 wheel left beside a CUDA 13 one, as pip leaves them), through
// filepath.Glob as the backend searches.
func TestCuBLASCandidatesOnDisk(t *testing.T) {
	site := t.TempDir()
	for _, d := range []string{"nvidia/cu13/lib", "nvidia/cublas/lib", "nvidia/cu12/lib"} {
		if err := os.MkdirAll(filepath.Join(site, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got := cublasCandidates(func(k string) string { return map[string]string{envCuBLASDir: site}[k] }, filepath.Glob)
	want := []string{"nvidia/cu13/lib", "nvidia/cublas/lib", "nvidia/cu12/lib", "."}
	for i, w := range want {
		if got[i] != filepath.Join(site, w, "libcublas.so.13") {
			t.Errorf("candidate %d is %s, want %s", i, got[i], filepath.Join(site, w, "libcublas.so.13"))
		}
	}
}

// TestCuBLASMissing: one line, naming every place searched and the ways to
// install cuBLAS.
func TestCuBLASMissing(t *testing.T) {
	env := func(k string) string {
		return map[string]string{envCuBLASDir: "/site", "VIRTUAL_ENV": "/venv", "LD_LIBRARY_PATH": "/ld"}[k]
	}
	msg := cublasMissing(env, globIn(), []string{"/usr/local/cuda/lib64/libcublas.so.12: wrong ELF class"})
	for _, want := range append(slices.Clone(cublasSonames), append(slices.Clone(cublasDirs),
		"/site/nvidia/cu13/lib", "/site/nvidia/cublas/lib", "LD_LIBRARY_PATH: /ld", "VIRTUAL_ENV: /venv/lib", "the ld.so cache",
		"wrong ELF class", "apt-get install", "pip install nvidia-cublas (CUDA 13) or nvidia-cublas-cu12", envCuBLAS+"=")...) {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("message is more than one line:\n%s", msg)
	}
}
