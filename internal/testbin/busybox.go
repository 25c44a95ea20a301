package testbin

import (
	"os"
	"path/filepath"
	"testing"
)

// BusyboxRoot fills root with the host's static busybox in /bin, a symlink
// to it for each applet, and the empty directories dirs ("bin" is made in
// any case). It fails the test when busybox is missing (NeedTool).
func BusyboxRoot(t *testing.T, root string, dirs, applets []string) {
	t.Helper()
	bb := NeedTool(t, "busybox")
	for _, d := range append([]string{"bin"}, dirs...) {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
}
