package mnist_test

import (
	"bytes"
	"fmt"

	"github.com/gputrain/gputrain/mnist"
)

func ExampleDecodeLabels() {
	// An IDX label file: magic 2049, count 3, then the labels.
	data := []byte{0, 0, 8, 1, 0, 0, 0, 3, 5, 0, 4}
	labels, err := mnist.DecodeLabels(bytes.NewReader(data), "labels.idx")
	fmt.Println(labels, err)

	data[9] = 10
	_, err = mnist.DecodeLabels(bytes.NewReader(data), "labels.idx")
	fmt.Println(err)
	// Output:
	// [5 0 4] <nil>
	// labels.idx: label 1 is 10, want 0..9
}
