package guard

import (
	"testing"

	"github.com/workshop-dev/workshop/internal/reexec"
)

func TestChildArgIsReexecs(t *testing.T) {
	if childArg != reexec.Arg {
		t.Errorf("childArg = %q, reexec.Arg = %q: a re-executed child would be guarded", childArg, reexec.Arg)
	}
}
