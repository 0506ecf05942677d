package memlimit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"4GiB", 4 << 30}, {"500MB", 500e6}, {"2G", 2e9}, {"1.5gb", 1.5e9}, {"64KiB", 64 << 10},
		{"1000000", 1e6}, {"12 MiB", 12 << 20}, {"3Ti", 3 << 40},
		{"", -1}, {"0", -1}, {"-1GB", -1}, {"4XB", -1}, {"GB", -1}, {"1e30GB", -1}, {"NaN", -1},
	} {
		got, err := ParseSize(c.in)
		if c.want < 0 {
			if err == nil || !strings.Contains(err.Error(), "--max-memory") {
				t.Errorf("ParseSize(%q) = %d, %v: want an error naming --max-memory", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", c.in, got, err, c.want)
		}
	}
}

func TestMemAvailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(path, []byte("MemTotal:       32000000 kB\nMemFree:  100 kB\nMemAvailable:   23511748 kB\n"), 0o644)
	if n, ok := memAvailable(path); !ok || n != 23511748*1024 {
		t.Fatalf("memAvailable = %d, %v", n, ok)
	}
	if _, err := os.Stat("/proc/meminfo"); err == nil {
		if l := Machine(); l.Bytes <= 0 || l.Bytes == Unknown.Bytes {
			t.Fatalf("Machine() = %+v on a machine with /proc/meminfo", l)
		}
	}
}

func TestCheck(t *testing.T) {
	l := Limit{Bytes: 1e9, Source: "--max-memory 1GB"}
	if err := l.Check("x", 9e8); err != nil {
		t.Fatal(err)
	}
	err := l.Check("--n 50000 at --scale 16", 44.9e9)
	if err == nil || err.Error() != "--n 50000 at --scale 16 needs about 44.9 GB of memory, more than --max-memory 1GB allows" {
		t.Fatalf("%v", err)
	}
	m := Limit{Bytes: 2e9, Source: "available (MemAvailable in /proc/meminfo)"}
	if err := m.Check("--sizes 784,50000,50000,10", 3e10); err == nil || !strings.Contains(err.Error(), "more than the 2.0 GB available (MemAvailable in /proc/meminfo); --max-memory overrides") {
		t.Fatalf("%v", err)
	}
}
