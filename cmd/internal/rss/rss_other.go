//go:build !unix

// Package rss reads peak resident set sizes from the kernel; off Unix it
// knows none.
package rss

import "os"

// Self is this process's peak resident set size: unknown (0) off Unix.
func Self() int64 { return 0 }

// Of is an exited process's peak resident set size: unknown (0) off Unix.
func Of(*os.ProcessState) int64 { return 0 }
