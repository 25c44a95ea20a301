package imagetar

import (
	"strings"
	"testing"
)

// A tag has at most 128 characters, Docker's rule: one of 128 is taken,
// one of 129 refused with the length said. Without this, a limit off by
// one would take a tag `docker tag` refuses, and the rules of ref.go would
// no longer be Docker's.
func TestParseRefTagLength(t *testing.T) {
	ok := "demo:" + strings.Repeat("a", 128)
	if r, err := ParseRef(ok); err != nil || r.Tag != strings.Repeat("a", 128) {
		t.Errorf("ParseRef(demo:<128 a>) = %+v, %v; want it taken", r, err)
	}
	_, err := ParseRef("demo:" + strings.Repeat("a", 129))
	if want := "has a tag of 129 characters: a tag has at most 128"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ParseRef(demo:<129 a>) = %v, want an error saying %q", err, want)
	}
}
