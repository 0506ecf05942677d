//go:build unix

package main

import (
	"os"
	"syscall"
)

// handOff replaces this process with bin, run with args: the same process,
// so its exit status and every signal are the CUDA build's own. It returns
// only when the exec fails.
func handOff(bin string, args []string) (int, error) {
	err := syscall.Exec(bin, append([]string{bin}, args...), os.Environ())
	return exitRuntime, err
}
