package main

import (
	"fmt"
	"os"
	"testing"
)

// sharedDir holds files the package's tests share (trainModel's models);
// it is removed when they are done.
var sharedDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gputrain-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
