// Package dropout draws chapter 6's dropout masks from a counter-based
// generator: whether a unit is kept depends only on (seed, step, layer,
// unit), never on what was drawn before, so that the CPU and CUDA
// backends draw the same masks in any order and a resumed run draws what
// the run it continues would have. The arithmetic is 64-bit integer
// only (SplitMix64's finaliser), which a CUDA kernel repeats exactly.
package dropout

// mix is SplitMix64's output function applied to z + γ: mix(s) is the
// value SplitMix64 returns from state s.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Bits are the 64 random bits of one unit: the run's seed, the training
// step (mini-batches since the start of the run), the layer (its index in
// the network) and the unit (its index in the step's mini-batch matrix,
// image × inputs + input).
func Bits(seed, step uint64, layer, unit int) uint64 {
	return KeyBits(StepKey(seed, step), layer, unit)
}

// StepKey is what Bits needs of the seed and the step, computed once a
// step: the machines hand it to the mask kernels.
func StepKey(seed, step uint64) uint64 { return mix(mix(seed) ^ step) }

// KeyBits is Bits from the step's key.
func KeyBits(key uint64, layer, unit int) uint64 {
	return mix(key ^ (uint64(layer)<<40 | uint64(unit)))
}

// KeyWords are the 16-bit pieces of a step key, low first: how a program's
// Key buffer holds it, exactly in float32 as in float64.
const KeyWords = 4

// SetKey writes key into a Key buffer.
func SetKey[T float32 | float64](dst []T, key uint64) {
	for i := range KeyWords {
		dst[i] = T(key >> (16 * i) & 0xffff)
	}
}

// GetKey reads the key SetKey wrote.
func GetKey[T float32 | float64](src []T) uint64 {
	var key uint64
	for i := range KeyWords {
		key |= uint64(src[i]) << (16 * i)
	}
	return key
}

// Threshold is the 53-bit integer below which a unit is dropped with
// probability p: units whose Bits >> 11 fall under it are dropped.
func Threshold(p float64) uint64 { return uint64(p * (1 << 53)) }

// Keep reports whether the unit is kept (probability 1 − p), as
// network3's binomial mask with n=1, p=1−p_dropout.
func Keep(seed, step uint64, layer, unit int, threshold uint64) bool {
	return Bits(seed, step, layer, unit)>>11 >= threshold
}

// Mask fills mask with 1 for each kept unit and 0 for each dropped one,
// units numbered from 0.
func Mask[T float32 | float64](mask []T, seed, step uint64, layer int, p float64) {
	th := Threshold(p)
	for i := range mask {
		mask[i] = 0
		if Keep(seed, step, layer, i, th) {
			mask[i] = 1
		}
	}
}
