package mountopt

import (
	"strings"
	"testing"
)

// Lines that lack a field, beyond those of
// TestParseMountinfoRefusesBrokenLines. The kernel writes every field of
// every line: one missing says the text is cut short or not a mountinfo,
// and taking it would hand callers an entry made of the wrong fields (an
// empty filesystem type matches no "overlay" or "cgroup2" they look for,
// and the mount goes unseen, silently).
func TestParseMountinfoRefusesMissingFields(t *testing.T) {
	for _, line := range []string{
		"22 1 8:1 / / - ext4 /dev/sda1 rw", // no mount options (field 6)
		"22 1 8:1 / / rw -  /dev/sda1 rw",  // an empty filesystem type
		"22 1 8:1 / / rw - ext4",           // no source
	} {
		if ms, err := Parse(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("Parse(%q) = %+v, nil error; want one", line, ms)
		}
	}
}
