package cgroups

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// validID must agree with the expression it replaced.
func TestValidIDAgreesWithExpression(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	check := func(s string) {
		if got, want := validID(s), re.MatchString(s); got != want {
			t.Errorf("validID(%q) = %v, the expression says %v", s, got, want)
		}
	}
	for _, s := range []string{"", "a", "_a", ".a", "-a", "a_b.c-d", "0123456789ab", "a/b", "a b", "a\n", "..", "é"} {
		check(s)
	}
	const alphabet = "aZ09_.-/ \n"
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		b := make([]byte, r.IntN(8))
		for j := range b {
			b[j] = alphabet[r.IntN(len(alphabet))]
		}
		check(string(b))
	}
}
