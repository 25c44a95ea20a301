package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// The layer a container leaves after `rm -r data; mkdir data; touch
// data/a`, `rm f; mkdir f; touch f/x` (f a file in the image) and `mknod
// /tmp/null c 1 3`. What would go wrong without each part of it:
//   - the opaque data/ keeping the image's entries: data/a, made anew,
//     would read as changed (C), not added;
//   - deletedUnder not sparing what the opaque directory holds again:
//     data/a would also be listed deleted;
//   - an opaque directory over the image's file, f, taken for one over a
//     directory: diff would fail opening the file as a directory;
//   - any character device taken for a whiteout: tmp/null, a device the
//     container made (1:3, not overlayfs's 0:0), would read as deleted.
func TestDiffOpaqueOverFileAndDevicesThatAreNoWhiteout(t *testing.T) {
	testbin.NeedRoot(t) // trusted.* xattrs, mknod
	lower, upper := t.TempDir(), t.TempDir()
	mustDo := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustDo(os.MkdirAll(filepath.Join(lower, "data", "sub"), 0o755))
	mustDo(os.WriteFile(filepath.Join(lower, "data", "a"), []byte("old"), 0o644))
	mustDo(os.WriteFile(filepath.Join(lower, "f"), []byte("a file"), 0o644))
	mustDo(os.Mkdir(filepath.Join(lower, "tmp"), 0o1777))

	for _, d := range []string{"data", "f"} {
		mustDo(os.Mkdir(filepath.Join(upper, d), 0o755))
		mustDo(unix.Setxattr(filepath.Join(upper, d), "trusted.overlay.opaque", []byte("y"), 0))
	}
	mustDo(os.WriteFile(filepath.Join(upper, "data", "a"), []byte("new"), 0o644))
	mustDo(os.WriteFile(filepath.Join(upper, "f", "x"), nil, 0o644))
	mustDo(os.Mkdir(filepath.Join(upper, "tmp"), 0o1777))
	mustDo(unix.Mknod(filepath.Join(upper, "tmp", "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))

	got, err := Diff(lower, upper)
	if err != nil {
		t.Fatalf("Diff = %v", err)
	}
	want := []string{"C /data", "A /data/a", "D /data/sub", "C /f", "A /f/x", "C /tmp", "A /tmp/null"}
	if lines := changeLines(got); strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
