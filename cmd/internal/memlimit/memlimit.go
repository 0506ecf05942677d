// Package memlimit says how much memory a command may use: the memory the
// machine has available, or its cgroup's limit when that is lower, or what
// the user sets with --max-memory. Commands compare their estimate with it
// and refuse work that cannot fit before allocating any of it.
package memlimit

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gputrain/gputrain/internal/safefile"
)

// Limit is a number of bytes and where it comes from, for messages.
type Limit struct {
	Bytes  int64
	Source string // "available (MemAvailable in /proc/meminfo)", "allowed by the cgroup (...)", "--max-memory 4GiB"
}

// Unknown is the Limit when the machine does not say (not Linux): none.
var Unknown = Limit{Bytes: math.MaxInt64, Source: "unknown"}

// Get returns the limit: flag parsed by ParseSize when not empty, else the
// machine's (see Machine).
func Get(flag string) (Limit, error) {
	if flag != "" {
		n, err := ParseSize(flag)
		if err != nil {
			return Limit{}, err
		}
		return Limit{Bytes: n, Source: "--max-memory " + flag}, nil
	}
	return Machine(), nil
}

// Machine returns MemAvailable from /proc/meminfo, or the memory limit of
// this process's cgroup (v2 memory.max, v1 memory.limit_in_bytes) when it
// is lower; Unknown where neither can be read.
func Machine() Limit {
	l := Unknown
	if n, ok := memAvailable("/proc/meminfo"); ok {
		l = Limit{n, "available (MemAvailable in /proc/meminfo)"}
	}
	for _, path := range cgroupFiles() {
		if n, ok := readInt(path); ok && n < l.Bytes {
			l = Limit{n, "allowed by the cgroup (" + path + ")"}
		}
	}
	return l
}

// memAvailable reads MemAvailable (in kB) from a meminfo file.
func memAvailable(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}

// cgroupFiles are the files that may hold this process's cgroup memory
// limit: under the cgroup's own path from /proc/self/cgroup, and at the
// root of the mount, which is the cgroup itself inside a container.
func cgroupFiles() []string {
	var files []string
	data, _ := os.ReadFile("/proc/self/cgroup")
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			files = append(files, filepath.Join("/sys/fs/cgroup", parts[2], "memory.max"))
		case strings.Contains(","+parts[1]+",", ",memory,"):
			files = append(files, filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes"))
		}
	}
	return append(files, "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
}

// readInt reads a file holding one number; "max" (no limit) is not one.
func readInt(path string) (int64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return n, err == nil && n > 0
}

// units are ParseSize's suffixes: decimal (kB, MB, GB, TB) and binary
// (KiB, MiB, GiB, TiB), case-insensitive, the B optional ("4G").
var units = []struct {
	suffix string
	bytes  float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"ki", 1 << 10}, {"mi", 1 << 20}, {"gi", 1 << 30}, {"ti", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1e3}, {"m", 1e6}, {"g", 1e9}, {"t", 1e12},
	{"b", 1},
}

// ParseSize reads a size such as "4GiB", "500MB", "1.5G" or "1000000" (bytes).
func ParseSize(s string) (int64, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.bytes
			break
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0) || f*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("--max-memory %q: want a size such as 4GiB, 500MB or 2G", s)
	}
	return int64(f * mult), nil
}

// Bytes formats n for messages: "131.0 MB", "44.9 GB", "8.8e+22 bytes".
func Bytes(n float64) string {
	if n >= 1e15 {
		return fmt.Sprintf("%.1e bytes", n)
	}
	return safefile.Bytes(int64(n))
}

// Check returns an error naming what (the flags that ask for the memory),
// the estimate and the limit when the estimate exceeds the limit.
func (l Limit) Check(what string, estimate float64) error {
	if estimate <= float64(l.Bytes) {
		return nil
	}
	if strings.HasPrefix(l.Source, "--max-memory") {
		return fmt.Errorf("%s needs about %s of memory, more than %s allows", what, Bytes(estimate), l.Source)
	}
	return fmt.Errorf("%s needs about %s of memory, more than the %s %s; --max-memory overrides",
		what, Bytes(estimate), Bytes(float64(l.Bytes)), l.Source)
}
