package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/graph/network"
)

// loadModel reads a --model or --init file, refusing one whose sizes need
// more memory than limit before reading it whole. A checkpoint given as a
// model is told how to get its model.
func loadModel(path string, limit memlimit.Limit) (*network.Network, error) {
	net, err := network.LoadChecked(path, checkModelMemory(path, limit))
	if errors.Is(err, network.ErrCheckpoint) {
		dir := filepath.Dir(path)
		return nil, fmt.Errorf("%s is a training checkpoint, not a model file: "+
			"gputrain train --resume %s --save MODEL.json writes its model (after training the epochs it has left)", path, dir)
	}
	return net, err
}
