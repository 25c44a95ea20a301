package imagetar

import "testing"

// Only the whole range mapped onto itself is the initial user namespace.
// A namespace that maps 0 to 0 for a few ids ("0 0 65536", as a rootless
// container runtime may set) is another namespace, where mknod of devices
// fails: without checking the count, DevicesAllowed would say yes there,
// and an import with devices fail with an EPERM from deep inside.
func TestInitialUIDMapNeedsTheWholeRange(t *testing.T) {
	for m, want := range map[string]bool{
		"0 0 4294967295":                     true,
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
