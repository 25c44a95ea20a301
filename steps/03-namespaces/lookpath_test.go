package namespaces

import (
	"os"
	"path/filepath"
	"testing"
)

// InRoot looks for a command as the container will: the root's symlinks
// resolved inside the root. A root whose usr pointed to / found the host's
// /usr/bin/ls, so step 2 copied nothing, and the container had no ls.
func TestInRootResolvesInsideTheRoot(t *testing.T) {
	if _, err := os.Stat("/usr/bin/ls"); err != nil {
		t.Fatalf("this test needs the host's /usr/bin/ls: %v", err)
	}
	out := t.TempDir()
	if err := os.Symlink("/", filepath.Join(out, "usr")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/bin", filepath.Join(out, "bin")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ls", "/usr/bin/ls", "/bin/ls"} {
		if InRoot(out, name) {
			t.Errorf("InRoot(root with usr -> /, %q) = true: it found the host's", name)
		}
	}

	// An absolute link inside the root is the root's own: bin -> /usr/bin
	// there is root/usr/bin.
	in := t.TempDir()
	if err := os.MkdirAll(filepath.Join(in, "usr", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "usr", "bin", "tool"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/bin", filepath.Join(in, "bin")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tool", "/bin/tool", "/usr/bin/tool"} {
		if !InRoot(in, name) {
			t.Errorf("InRoot(root with bin -> /usr/bin, %q) = false", name)
		}
	}
	if InRoot(in, "missing") {
		t.Errorf("InRoot(root, missing) = true")
	}
}
