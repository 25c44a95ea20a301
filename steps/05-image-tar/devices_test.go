package imagetar

import (
	"errors"
	"testing"
)

// Only the whole range mapped onto itself is the initial user namespace.
// A namespace that maps 0 to 0 for a few ids ("0 0 65536", as a rootless
// container runtime may set) is another namespace, where mknod of devices
// fails: without checking the count, DevicesAllowed would say yes there,
// and an import with devices fail with an EPERM from deep inside.
func TestInitialUIDMapNeedsTheWholeRange(t *testing.T) {
	for m, want := range map[string]bool{
		"0 0 4294967295":                     true,
		"         0          0 4294967295\n": true,
		"         0       1000          1\n": false,
		"0 0 4294967295\n1 1 1\n":            false,
		"":                                   false,
		"         0          0      65536\n": false,
		"         0          0 4294967294\n": false,
		"         1          0 4294967295\n": false,
		"         0          1 4294967295\n": false,
		"         0          0\n":            false,
	} {
		if got := initialUIDMap(m); got != want {
			t.Errorf("initialUIDMap(%q) = %v, want %v", m, got, want)
		}
	}
}

// A user of the initial namespace but root reads the same identity map as
// root does: its uid alone must refuse it device nodes.
func TestDevicesAllowedOnlyToRoot(t *testing.T) {
	identity := func() ([]byte, error) { return []byte("         0          0 4294967295\n"), nil }
	unreadable := func() ([]byte, error) { return nil, errors.New("permission denied") }
	for _, tc := range []struct {
		euid    int
		readMap func() ([]byte, error)
		want    bool
	}{
		{0, identity, true},
		{1000, identity, false},
		{65534, identity, false},
		{0, unreadable, false},
	} {
		if got := devicesAllowed(tc.euid, tc.readMap); got != tc.want {
			t.Errorf("devicesAllowed(euid %d) = %v, want %v", tc.euid, got, tc.want)
		}
	}
}
