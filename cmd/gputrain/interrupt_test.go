package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestInterruptSavesCheckpoint sends this process SIGINT during training:
// run saves a checkpoint, says how to resume, exits 130, and the
// checkpoint resumes.
func TestInterruptSavesCheckpoint(t *testing.T) {
	data := dataDir(t)
	ck := filepath.Join(t.TempDir(), "ck")
	var out, errb syncBuffer
	done := make(chan int)
	go func() {
		done <- run([]string{"train", "--data", data, "--epochs", "200", "--eval", "none", "--quiet", "--checkpoint", ck}, &out, &errb)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Epoch 1 complete") {
		if time.Now().After(deadline) {
			t.Fatalf("training did not start: %q %q", out.String(), errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("training went on after SIGINT")
	}
	if code != 130 || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "gputrain train --resume "+ck) {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(ck, checkpointFile)); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("train", "--data", data, "--resume", ck, "--epochs", "3", "--eval", "none", "--quiet")
	if code != 0 || !strings.Contains(stdout, "Epoch 2 complete") {
		t.Fatalf("resume: exit %d, %q, %q", code, stdout, stderr)
	}
}
