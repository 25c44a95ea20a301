package container

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// copyTree is MountLayer's fallback where the kernel has no overlayfs: the
// copy must be the image as the container would have seen it through an
// overlay, with every mode bit (the sticky /tmp, a setuid program, a
// directory wider than the umask), every owner, and symlinks copied as
// links, never followed.
func TestCopyTree(t *testing.T) {
	testbin.NeedRoot(t) // owners
	old := unix.Umask(0o022)
	defer unix.Umask(old)

	src, dst := t.TempDir(), t.TempDir()
	type entry struct {
		mode     os.FileMode
		uid, gid int
	}
	dirs := map[string]entry{
		"etc":         {0o755, 0, 0},
		"tmp":         {0o777 | os.ModeSticky, 0, 0},
		"home/alice":  {0o750, 1000, 1000},
		"srv/shared":  {0o775 | os.ModeSetgid, 0, 50},
		"var/private": {0o700, 0, 0},
	}
	files := map[string]entry{
		"etc/passwd":      {0o644, 0, 0},
		"etc/shadow":      {0o640, 0, 42},
		"usr/bin/su":      {0o755 | os.ModeSetuid, 0, 0},
		"home/alice/note": {0o600, 1000, 1000},
		"usr/bin/tool":    {0o775, 0, 0},
	}
	links := map[string]string{
		"bin":                 "usr/bin",      // relative, to a directory
		"etc/mtab":            "/proc/mounts", // absolute: resolves inside the container
		"home/alice/dangling": "no/such/file",
		"etc/hostpasswd":      "/etc/passwd", // must not become a copy of the host's file
	}
	for _, name := range []string{"usr/bin", "srv", "var", "home"} {
		mkdir(t, filepath.Join(src, name), 0o755)
	}
	for name, e := range dirs {
		mkdir(t, filepath.Join(src, name), 0o755)
		chownChmod(t, filepath.Join(src, name), e.uid, e.gid, e.mode)
	}
	for name, e := range files {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte("content of "+name), 0o600); err != nil {
			t.Fatal(err)
		}
		chownChmod(t, p, e.uid, e.gid, e.mode)
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	// A link owned by someone: lchown changes the link, not its target.
	if err := os.Lchown(filepath.Join(src, "home/alice/dangling"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	// A fifo is made anew, as the overlay would show it; a device node is
	// left out (the copy, unlike the overlay, is not nodev).
	if err := unix.Mkfifo(filepath.Join(src, "var/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(src, "var/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}

	st, err := copyTree(src, dst)
	if err != nil {
		t.Fatalf("copyTree: %v", err)
	}
	if want := (copyStats{dirs: 10, files: 5, links: 4, fifos: 1, skipped: []string{"/var/null"}}); fmt.Sprint(st) != fmt.Sprint(want) {
		t.Errorf("copyTree counted %+v, want %+v", st, want)
	}

	want := describeTree(t, src)
	if i := strings.Index(want, "var/null "); i >= 0 {
		want = want[:i] + want[i+strings.Index(want[i:], "\n")+1:]
	}
	if got := describeTree(t, dst); got != want {
		t.Errorf("copyTree made\n%s\nwant\n%s", got, want)
	}
	for name := range files {
		b, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(b) != "content of "+name {
			t.Errorf("%s: content %q, %v", name, b, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "var/null")); err == nil {
		t.Errorf("copyTree copied a device node")
	}
}

// describeTree lists every entry under root, one line each: path, type and
// mode bits as ls shows them, owner, and a link's target.
func describeTree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if fi.Mode()&os.ModeNamedPipe != 0 {
			lines = append(lines, fmt.Sprintf("%s %v", rel, fi.Mode()&^os.ModePerm))
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		line := fmt.Sprintf("%s %v %d:%d", rel, fi.Mode(), st.Uid, st.Gid)
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " -> " + target
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func mkdir(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(p, mode); err != nil {
		t.Fatal(err)
	}
}

// chownChmod sets owner then mode: chown clears the setuid and setgid bits.
func chownChmod(t *testing.T, p string, uid, gid int, mode os.FileMode) {
	t.Helper()
	if err := os.Lchown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}
