//go:build unix

// Package rss reads peak resident set sizes from the kernel: the running
// process's own (gputrain's per-epoch log) and an exited child's
// (gputrain-bench's tables).
package rss

import (
	"os"
	"runtime"
	"syscall"
)

// Self is this process's peak resident set size in bytes, or 0 if unknown.
func Self() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return bytes(&ru)
}

// Of is an exited process's peak resident set size in bytes, or 0 if
// unknown.
func Of(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return bytes(ru)
}

func bytes(ru *syscall.Rusage) int64 {
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) // bytes there, KiB elsewhere
	}
	return int64(ru.Maxrss) * 1024
}
