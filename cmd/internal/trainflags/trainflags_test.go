package trainflags

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// TestMainBadInput: every bad command line or model is one line naming the
// flag or file, exit 2 or 1, before any training.
func TestMainBadInput(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.json")
	n, err := network.New([]int{784, 20, 10}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Save(model); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--epochs", "0"}, 2, "p: --epochs 0: must be at least 1\n"},
		{[]string{"--batch-size", "0"}, 2, "p: --batch-size 0: must be at least 1\n"},
		{[]string{"--eta", "NaN"}, 2, "p: --eta NaN: must be a finite number > 0\n"},
		{[]string{"--train-limit", "-1"}, 2, "p: --train-limit -1: must be 0 (all) or more\n"},
		{[]string{"--eval", "train"}, 2, "p: --eval \"train\": want test, validation or none\n"},
		{[]string{"--dtype", "int8"}, 2, `p: invalid value "int8" for flag -dtype: dtype "int8": want float32 or float64`},
		{[]string{"--sizes", "784,10,9"}, 2, "p: --sizes: "},
		{[]string{"--save", filepath.Join(dir, "no", "m.json")}, 2, "p: --save: "},
		{[]string{"--init", model}, 2, "p: --sizes 784,30,10 differs from " + model + "'s sizes [784 20 10]\n"},
		{[]string{"--init", filepath.Join(dir, "none.json")}, 1, "p: " + filepath.Join(dir, "none.json") + ": "},
		{[]string{"extra"}, 2, "p: unexpected argument \"extra\"\n"},
	} {
		var stderr strings.Builder
		trained := false
		train := func(*Peer, *network.Network, *mnist.Set, *mnist.Set, io.Writer) (*network.Network, error) {
			trained = true
			return nil, nil
		}
		code := Main("p", c.args, io.Discard, &stderr, train, train)
		if code != c.code || !strings.HasPrefix(stderr.String(), c.want) || strings.Count(stderr.String(), "\n") != 1 || trained {
			t.Errorf("%v: exit %d, stderr %q, trained %v; want %d, %q…", c.args, code, stderr.String(), trained, c.code, c.want)
		}
	}
}

// TestMain: the trainer gets --init's network, the first --train-limit
// images, the set --eval names and the dtype's trainer; --save writes what
// it returns; a trainer's panic is one line and exit 1.
func TestMain(t *testing.T) {
	data := mnist.SharedDir()
	if _, err := os.Stat(filepath.Join(data, "t10k-labels-idx1-ubyte.gz")); err != nil {
		t.Skip("no MNIST files (run `go run ./cmd/gputrain data` or set GPUTRAIN_DATA)")
	}
	dir := t.TempDir()
	init, err := network.New([]int{784, 20, 10}, 3)
	if err != nil {
		t.Fatal(err)
	}
	initPath, save := filepath.Join(dir, "init.json"), filepath.Join(dir, "out.json")
	if err := init.Save(initPath); err != nil {
		t.Fatal(err)
	}
	done, _ := network.New([]int{784, 20, 10}, 4)
	var dtype string
	train := func(dt string) Trainer {
		return func(p *Peer, net *network.Network, training, eval *mnist.Set, w io.Writer) (*network.Network, error) {
			if !net.Equal(init) || training.Len() != 300 || eval.Len() != 10000 {
				t.Errorf("trainer got a network equal to --init's: %v, %d training images, %d to evaluate", net.Equal(init), training.Len(), eval.Len())
			}
			dtype = dt
			Epoch(w, 0, 1, 2, 0.5)
			return done, nil
		}
	}
	var stdout, stderr strings.Builder
	args := []string{"--sizes", "784,20,10", "--init", initPath, "--train-limit", "300", "--eval", "validation", "--dtype", "float64",
		"--data", data, "--save", save}
	if code := Main("p", args, &stdout, &stderr, train("float32"), train("float64")); code != 0 || dtype != "float64" {
		t.Fatalf("exit %d, trainer %s: %s", code, dtype, stderr.String())
	}
	if stdout.String() != `{"correct":1,"epoch":0,"seconds":0.5,"total":2}`+"\n" {
		t.Errorf("epoch line %q", stdout.String())
	}
	if got, err := network.Load(save); err != nil || !got.Equal(done) {
		t.Errorf("--save holds another network (%v)", err)
	}
	panicky := func(*Peer, *network.Network, *mnist.Set, *mnist.Set, io.Writer) (*network.Network, error) {
		panic("shape mismatch")
	}
	stderr.Reset()
	if code := Main("p", args, io.Discard, &stderr, panicky, panicky); code != 1 || stderr.String() != "p: shape mismatch\n" {
		t.Errorf("a panic: exit %d, %q", code, stderr.String())
	}
}
