package container

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A run with no command starts the image's bash, where it has one, found
// inside the image's root even through an absolute symlink (bin ->
// /usr/bin); its sh otherwise.
func TestImageShell(t *testing.T) {
	write := func(t *testing.T, root, name string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	withBash := t.TempDir()
	write(t, withBash, "bin/bash", 0o755)
	usrBin := t.TempDir()
	write(t, usrBin, "usr/bin/bash", 0o755)
	if err := os.Symlink("/usr/bin", filepath.Join(usrBin, "bin")); err != nil {
		t.Fatal(err)
	}
	// An absolute symlink that would reach the host's bash, were it
	// followed outside the root: the root itself has none.
	hostsOnly := t.TempDir()
	if err := os.Symlink("/usr/bin", filepath.Join(hostsOnly, "bin")); err != nil {
		t.Fatal(err)
	}
	notExecutable := t.TempDir()
	write(t, notExecutable, "bin/bash", 0o644)
	for _, c := range []struct {
		name, root  string
		interactive bool
		want        []string
	}{
		{"bash", withBash, false, []string{"/bin/bash"}},
		{"bash, interactive", withBash, true, []string{"/bin/bash", "-i"}},
		{"bash through bin -> /usr/bin", usrBin, true, []string{"/bin/bash", "-i"}},
		{"the host's bash only", hostsOnly, true, []string{"/bin/sh", "-i"}},
		{"a bash that cannot run", notExecutable, false, []string{"/bin/sh"}},
		{"no bash", t.TempDir(), false, []string{"/bin/sh"}},
	} {
		if got := ImageShell(c.root, c.interactive); !slices.Equal(got, c.want) {
			t.Errorf("%s: ImageShell = %q, want %q", c.name, got, c.want)
		}
	}
}
