// Package ids makes container ids: 12 hexadecimal characters, the short form
// Docker shows in `docker ps`. 48 random bits make a collision between the
// containers of one classroom machine practically impossible.
package ids

import (
	"crypto/rand"
	"encoding/hex"
)

// Len is the length of an id.
const Len = 12

// New returns a fresh random id, e.g. "3f9a1c0b7e42".
func New() string {
	b := make([]byte, Len/2)
	// crypto/rand.Read never fails on Linux (getrandom); it panics if the
	// kernel's generator is broken, which no id could survive anyway.
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Valid reports whether s has the form of an id: Len lower-case hex digits.
func Valid(s string) bool {
	if len(s) != Len {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
