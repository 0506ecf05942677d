package main

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestDefaultDataDir: $GPUTRAIN_DATA first, then an existing ./data/mnist,
// then the user's cache directory, then ./data/mnist when there is no
// cache directory to be had.
func TestDefaultDataDir(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the cases set XDG_CACHE_HOME and HOME, which make the user's cache directory on Linux")
	}
	cache := t.TempDir()
	cases := []struct {
		name      string
		env       string // GPUTRAIN_DATA
		localData bool   // ./data/mnist exists
		xdg, home string
		want      string
	}{
		{"GPUTRAIN_DATA", "/srv/mnist", true, cache, "/home/u", "/srv/mnist"},
		{"./data/mnist exists", "", true, cache, "/home/u", filepath.Join("data", "mnist")},
		{"the user's cache", "", false, cache, "/home/u", filepath.Join(cache, "gputrain", "mnist")},
		{"the cache under HOME", "", false, "", "/home/u", filepath.Join("/home/u", ".cache", "gputrain", "mnist")},
		{"no cache at all", "", false, "", "", filepath.Join("data", "mnist")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			if c.localData {
				if err := os.MkdirAll(filepath.Join("data", "mnist"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("GPUTRAIN_DATA", c.env)
			t.Setenv("XDG_CACHE_HOME", c.xdg)
			t.Setenv("HOME", c.home)
			if got := defaultDataDir(); got != c.want {
				t.Errorf("defaultDataDir() = %q, want %q", got, c.want)
			}
		})
	}
}
