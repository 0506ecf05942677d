package cuda

import (
	"slices"
	"strings"
	"testing"
)

// TestCuBLASCandidates: the order the issue of portability asks for. A
// named file alone; else the pip wheel folder the user names first, then
// for each soname, newest first, the search path before the toolkit's
// folders.
func TestCuBLASCandidates(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"override", map[string]string{envCuBLAS: "/opt/x/libcublas.so.12", envCuBLASDir: "/site"}, []string{"/opt/x/libcublas.so.12"}},
		{"default", nil, []string{
			"libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.13",
			"libcublas.so.12", "/usr/local/cuda/lib64/libcublas.so.12", "/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.12",
			"libcublas.so.11", "/usr/local/cuda/lib64/libcublas.so.11", "/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.11",
			"libcublas.so", "/usr/local/cuda/lib64/libcublas.so", "/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := cublasCandidates(func(k string) string { return c.env[k] })
			if !slices.Equal(got, c.want) {
				t.Errorf("candidates\n%q\nwant\n%q", got, c.want)
			}
		})
	}
	got := cublasCandidates(func(k string) string { return map[string]string{envCuBLASDir: "/site"}[k] })
	if want := []string{"/site/nvidia/cublas/lib/libcublas.so.13", "/site/nvidia/cublas/lib/libcublas.so.12"}; !slices.Equal(got[:2], want) {
		t.Errorf("with %s the wheel's folder comes first: %q", envCuBLASDir, got[:2])
	}
	if n := len(got); n != 12+8 {
		t.Errorf("%d candidates with %s, want 20", n, envCuBLASDir)
	}
}

// TestCuBLASMissing: one line, naming every place searched and three ways
// to install cuBLAS.
func TestCuBLASMissing(t *testing.T) {
	msg := cublasMissing(func(k string) string { return map[string]string{envCuBLASDir: "/site"}[k] }, []string{"/usr/local/cuda/lib64/libcublas.so.12: wrong ELF class"})
	for _, want := range append(slices.Clone(cublasSonames), append(slices.Clone(cublasDirs),
		"/site/nvidia/cublas/lib", "library search path", "wrong ELF class", "apt-get install", "pip install nvidia-cublas-cu12", envCuBLAS+"=")...) {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("message is more than one line:\n%s", msg)
	}
}
