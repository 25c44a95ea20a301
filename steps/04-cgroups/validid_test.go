package cgroups

import (
	"regexp"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
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
	for _, s := range testbin.RandomStrings(3, "aZ09_.-/ \n", 8, 20000) {
		check(s)
	}
}
