package sys

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// removeTreeGone removes tree with RemoveTree, checks it is gone, and
// returns the narration.
func removeTreeGone(t *testing.T, tree string) string {
	t.Helper()
	var out bytes.Buffer
	n := New(&out, Options{})
	if err := n.RemoveTree(tree); err != nil {
		t.Fatalf("RemoveTree = %v", err)
	}
	if _, err := os.Lstat(tree); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the tree is still there: %v", err)
	}
	return out.String()
}

// RemoveTree removes what is in the tree and nothing it points to.
func TestRemoveTreeNeverFollowsSymlinks(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "precious"), []byte("keep me"), 0o644)

	tree := filepath.Join(base, "tree")
	for _, d := range []string{"a/b/c", "d", "locked/inner"} {
		os.MkdirAll(filepath.Join(tree, d), 0o755)
	}
	for i, f := range []string{"a/1", "a/b/2", "a/b/c/3", "d/4", "5", "6", "7", "8", "locked/inner/9"} {
		os.WriteFile(filepath.Join(tree, f), []byte{byte(i)}, 0o644)
	}
	os.Symlink(outside, filepath.Join(tree, "link-to-outside"))
	os.Symlink(filepath.Join(outside, "precious"), filepath.Join(tree, "d", "link-to-file"))

	out := removeTreeGone(t, tree)
	if b, err := os.ReadFile(filepath.Join(outside, "precious")); err != nil || string(b) != "keep me" {
		t.Errorf("a file a symlink pointed to was touched: %q, %v", b, err)
	}
	// The first calls one by one, the rest counted, the top last.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != ShownPerTree+2 {
		t.Fatalf("narration has %d lines, want %d shown calls, a count and the top's rmdir:\n%s", len(lines), ShownPerTree, out)
	}
	if !strings.Contains(lines[ShownPerTree], "more unlinkat calls") {
		t.Errorf("line %d = %q, want the count of calls not shown", ShownPerTree+1, lines[ShownPerTree])
	}
	if want := `unlinkat(AT_FDCWD, "` + tree + `", AT_REMOVEDIR) = 0`; lines[len(lines)-1] != want {
		t.Errorf("last line = %q, want %q", lines[len(lines)-1], want)
	}
}

// A container or an archive can make a tree deeper than PATH_MAX (4096
// bytes of path): RemoveTree removes it (it used to fail with "file name
// too long", and clean --images then left a store that named lost images).
func TestRemoveTreeDeeperThanPathMax(t *testing.T) {
	tree := filepath.Join(t.TempDir(), "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	const level = "a-directory-level" // 17 bytes and a slash: 300 levels are 5400 bytes
	fd, err := unix.Open(tree, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 300 {
		if err := unix.Mkdirat(fd, level, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, level, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	file, err := unix.Openat(fd, "deep-file", unix.O_WRONLY|unix.O_CREAT, 0o644)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(file)
	if _, err := os.Lstat(tree + strings.Repeat("/"+level, 300)); !errors.Is(err, unix.ENAMETOOLONG) {
		t.Fatalf("the tree is not deeper than PATH_MAX: lstat of its bottom = %v", err)
	}

	out := removeTreeGone(t, tree)
	// Every call is shown or counted: 300 directories and the file below
	// the top, whose own rmdir is shown last.
	shown := -1 // the top's own call is not one of them
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "unlinkat(") {
			shown++
		}
	}
	var hidden int
	if i := strings.Index(out, "… and "); i < 0 {
		t.Fatalf("narration counts no calls:\n%.2000s", out)
	} else {
		fmt.Sscanf(out[i:], "… and %d more unlinkat calls", &hidden)
	}
	if shown+hidden != 301 {
		t.Errorf("narration shows %d calls and counts %d more, want 301 in all:\n%.2000s", shown, hidden, out)
	}
}

func TestRemoveTreeOfWhatIsNotThere(t *testing.T) {
	var out bytes.Buffer
	n := New(&out, Options{})
	if err := n.RemoveTree(filepath.Join(t.TempDir(), "nothing")); err != nil {
		t.Errorf("RemoveTree(missing) = %v, want nil", err)
	}
	if out.Len() != 0 {
		t.Errorf("removing nothing narrated %q", out.String())
	}
}
