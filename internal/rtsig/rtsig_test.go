package rtsig

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// ignoredMask reads SigIgn from a /proc/PID/status.
func ignoredMask(t *testing.T, status string) uint64 {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no SigIgn in %q", status)
	return 0
}

// The bits of signals 32 and 34 in a SigIgn mask (bit n-1 is signal n).
const reservedBits = 1<<31 | 1<<33

// Ignored, the two signals are; a program started Unignored gets them
// at their default action, as does this process after Default.
func TestIgnoreAndDefault(t *testing.T) {
	// Signal 33 is the Go runtime's (per-thread syscalls): never touched,
	// or setresuid would wait for ever.
	for _, s := range Reserved {
		if s == 33 {
			t.Fatal("signal 33 is among the reserved ones: Go's setuid would hang")
		}
	}
	Ignore()
	defer Default()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	if m := ignoredMask(t, string(b)); m&reservedBits != reservedBits {
		t.Errorf("after Ignore, SigIgn = %#x: signals 32 and 34 not all ignored", m)
	}
	var out []byte
	err = Unignored(func() error {
		var err error
		out, err = exec.Command("cat", "/proc/self/status").Output()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if m := ignoredMask(t, string(out)); m&reservedBits != 0 {
		t.Errorf("a program started Unignored has SigIgn %#x: it inherited signals 32 and 34 ignored", m)
	}
	b, _ = os.ReadFile("/proc/self/status")
	if m := ignoredMask(t, string(b)); m&reservedBits != reservedBits {
		t.Errorf("after Unignored, SigIgn = %#x: not ignored again", m)
	}
	Default()
	b, _ = os.ReadFile("/proc/self/status")
	if m := ignoredMask(t, string(b)); m&reservedBits != 0 {
		t.Errorf("after Default, SigIgn = %#x", m)
	}
}
