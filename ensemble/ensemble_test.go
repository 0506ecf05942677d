package ensemble

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestVoteDigits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		digits [][]uint8
		want   []uint8
	}{
		{"unanimous", [][]uint8{{3}, {3}, {3}}, []uint8{3}},
		{"majority", [][]uint8{{1}, {7}, {7}, {2}, {7}}, []uint8{7}},
		{"plurality", [][]uint8{{1}, {7}, {7}, {2}, {1}, {7}}, []uint8{7}},
		// 2–2–1: the first member that voted for a tied digit decides.
		{"tie, first member's", [][]uint8{{4}, {9}, {9}, {4}, {0}}, []uint8{4}},
		{"tie, first member out of it", [][]uint8{{0}, {9}, {4}, {4}, {9}}, []uint8{9}},
		{"one member", [][]uint8{{5, 6, 7}}, []uint8{5, 6, 7}},
		{"per image", [][]uint8{{1, 2}, {1, 3}, {0, 3}}, []uint8{1, 3}},
	} {
		got, err := VoteDigits(tc.digits)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range [][][]uint8{nil, {{1, 2}, {1}}, {{10}}} {
		if _, err := VoteDigits(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// TestVoteAgainstCounting holds VoteDigits to the rule written as a count
// over random votes: the winner has the most votes, and no member before
// the first that voted for it voted for another digit with as many.
func TestVoteAgainstCounting(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		members := 1 + rng.IntN(7)
		digits := make([][]uint8, members)
		for k := range digits {
			digits[k] = []uint8{uint8(rng.IntN(4))}
		}
		got, err := VoteDigits(digits)
		if err != nil {
			t.Fatal(err)
		}
		count := func(d uint8) int {
			n := 0
			for _, m := range digits {
				if m[0] == d {
					n++
				}
			}
			return n
		}
		for _, m := range digits {
			if count(m[0]) > count(got[0]) {
				t.Fatalf("%v: %d won with %d votes, %d has %d", digits, got[0], count(got[0]), m[0], count(m[0]))
			}
			if m[0] == got[0] {
				break
			}
			if count(m[0]) == count(got[0]) {
				t.Fatalf("%v: %d won the tie, but an earlier member voted %d", digits, got[0], m[0])
			}
		}
	}
}

func TestMeanActivations(t *testing.T) {
	a := [][]float64{{0.1, 0.9, 0, 0, 0, 0, 0, 0, 0, 0}, {1, 0, 0, 0, 0, 0, 0, 0, 0, 0.5}}
	b := [][]float64{{0.3, 0.1, 0, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5}}
	got, err := MeanActivations([][][]float64{a, b})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		for j := range a[i] {
			if want := (a[i][j] + b[i][j]) / 2; math.Abs(got[i][j]-want) > 1e-15 {
				t.Errorf("[%d][%d] = %v, want %v", i, j, got[i][j], want)
			}
		}
	}
	if _, err := MeanActivations([][][]float64{a, b[:1]}); err == nil {
		t.Error("members of different lengths: no error")
	}
	if _, err := MeanActivations([][][]float64{{{1, 2}}}); err == nil {
		t.Error("two activations: no error")
	}
}
