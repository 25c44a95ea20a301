package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDiff(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	for _, d := range []string{"etc", "bin", "tmp"} {
		os.MkdirAll(filepath.Join(lower, d), 0o755)
	}
	os.WriteFile(filepath.Join(lower, "etc", "hostname"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(lower, "bin", "gone"), []byte("a"), 0o755)

	os.MkdirAll(filepath.Join(upper, "etc"), 0o755)
	os.WriteFile(filepath.Join(upper, "etc", "hostname"), []byte("b"), 0o644)
	os.MkdirAll(filepath.Join(upper, "new", "sub"), 0o755)
	os.WriteFile(filepath.Join(upper, "new", "sub", "f"), nil, 0o644)
	os.MkdirAll(filepath.Join(upper, "bin"), 0o755)
	if os.Geteuid() == 0 {
		if err := unix.Mknod(filepath.Join(upper, "bin", "gone"), unix.S_IFCHR|0o000, 0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Diff(lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range got {
		lines = append(lines, c.String())
	}
	want := []string{"C /bin", "C /etc", "C /etc/hostname", "A /new", "A /new/sub", "A /new/sub/f"}
	if os.Geteuid() == 0 {
		want = []string{"C /bin", "D /bin/gone", "C /etc", "C /etc/hostname", "A /new", "A /new/sub", "A /new/sub/f"}
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
