package exit

import (
	"errors"
	"fmt"
	"testing"
)

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("plain"), 125},
		{Code(3, nil), 3},
		{fmt.Errorf("wrapped: %w", Errorf(127, "no %s", "bash")), 127},
	} {
		if got := Status(tc.err); got != tc.want {
			t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if !Silent(Code(1, nil)) || Silent(Errorf(1, "x")) {
		t.Errorf("Silent: a bare status is silent, an error with a sentence is not")
	}
}
