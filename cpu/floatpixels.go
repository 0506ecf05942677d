package cpu

// floatPixels copies the pixels of a set read from the book's pickle
// (mnist.Set.Float32) into a batch: as they are in float32, widened
// exactly in float64, as numpy widens them for network.py's float64
// weights.
func floatPixels[T Float](dst []T, src []float32) {
	for i, v := range src[:len(dst)] {
		dst[i] = T(v)
	}
}
