package testbin

import "math/rand/v2"

// RandomStrings returns n strings of fewer than maxLen bytes drawn from
// alphabet, the same ones for the same seed: the inputs of a property test
// that compares a hand-written check with its specification.
func RandomStrings(seed uint64, alphabet string, maxLen, n int) []string {
	r := rand.New(rand.NewPCG(seed, seed+1))
	out := make([]string, n)
	for i := range out {
		b := make([]byte, r.IntN(maxLen))
		for j := range b {
			b[j] = alphabet[r.IntN(len(alphabet))]
		}
		out[i] = string(b)
	}
	return out
}
