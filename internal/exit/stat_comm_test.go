package exit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A command's name is any 15 bytes, ")" and spaces among them (a program
// named "a) b" is one prctl away): the fields after it are counted from
// the stat line's last ")". Counted from the first, every field would be
// one off, and the mask read would be the pending signals' (field 31), not
// the blocked ones' (field 32): settle would wait on, or pass, the wrong
// threads.
func TestBlockedSignalsNameWithAParenthesis(t *testing.T) {
	fields := []string{"S"} // field 3; then 4 to 52, each its number times 100
	for n := 4; n <= 52; n++ {
		fields = append(fields, fmt.Sprint(n*100))
	}
	for _, name := range []string{"a", "a) b", "x) (y) z", ") S 1 2 3"} {
		stat := filepath.Join(t.TempDir(), "stat")
		line := "1 (" + name + ") " + strings.Join(fields, " ") + "\n"
		if err := os.WriteFile(stat, []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := blockedSignals(stat); err != nil || got != 3200 {
			t.Errorf("blockedSignals of %q = %d, %v; want 3200, field 32's", line, got, err)
		}
	}
}
