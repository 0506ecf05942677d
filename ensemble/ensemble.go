// Package ensemble combines the predictions of several networks into one,
// as chapter 6 of the book combines five: by a majority vote of their
// digits, or by the mean of their output activations.
package ensemble

import (
	"fmt"

	"github.com/gputrain/gputrain/graph/network"
)

// Method is how members' predictions are combined.
type Method string

// The methods: chapter 6's vote, and the mean of the ten activations.
const (
	Vote Method = "vote"
	Mean Method = "mean"
)

// Methods lists the valid methods, the default first.
var Methods = []Method{Vote, Mean}

// VoteDigits returns, for every image, the digit most members predict.
// digits[k][i] is member k's digit for image i. A tie goes to the tied
// digit of the first member (in the order given) that voted for one of
// them: the order of the models is the tie-breaker, and a user who lists
// the strongest model first gets its word.
func VoteDigits(digits [][]uint8) ([]uint8, error) {
	if len(digits) == 0 {
		return nil, fmt.Errorf("no members to vote")
	}
	n := len(digits[0])
	for k, d := range digits {
		if len(d) != n {
			return nil, fmt.Errorf("member %d predicted %d images, member 0 %d", k, len(d), n)
		}
	}
	out := make([]uint8, n)
	for i := range n {
		var votes [network.OutputSize]int
		best := 0
		for _, d := range digits {
			if d[i] >= network.OutputSize {
				return nil, fmt.Errorf("image %d: digit %d is not 0..9", i, d[i])
			}
			votes[d[i]]++
			best = max(best, votes[d[i]])
		}
		for _, d := range digits {
			if votes[d[i]] == best {
				out[i] = d[i]
				break
			}
		}
	}
	return out, nil
}

// MeanActivations returns, for every image, the mean of the members'
// output activations. acts[k][i] is member k's ten activations for image i.
func MeanActivations(acts [][][]float64) ([][]float64, error) {
	if len(acts) == 0 {
		return nil, fmt.Errorf("no members to average")
	}
	n := len(acts[0])
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, network.OutputSize)
	}
	for k, member := range acts {
		if len(member) != n {
			return nil, fmt.Errorf("member %d predicted %d images, member 0 %d", k, len(member), n)
		}
		for i, a := range member {
			if len(a) != network.OutputSize {
				return nil, fmt.Errorf("member %d, image %d: %d activations, want %d", k, i, len(a), network.OutputSize)
			}
			for j, v := range a {
				out[i][j] += v
			}
		}
	}
	for _, a := range out {
		for j := range a {
			a[j] /= float64(len(acts))
		}
	}
	return out, nil
}
