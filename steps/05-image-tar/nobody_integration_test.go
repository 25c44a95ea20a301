package imagetar_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// The image store is root's: every image command, run without sudo, says
// so in one sentence (125) and makes or changes nothing, even where nobody
// could have made the store (a state dir open to all).
func TestImageCommandsNeedRoot(t *testing.T) {
	testbin.NeedRoot(t)
	open := t.TempDir()
	testbin.Chmod(t, 0o777, filepath.Dir(open), open)
	made := t.TempDir() // a store root made, then opened up by mistake
	root, _ := rootWithLeasable(t)
	if r := testbin.Run(t, "", "--state-dir", made, "image", "pack", root, "demo"); r.Code != 0 {
		t.Fatalf("image pack as root = %d\n%s", r.Code, r.Stderr)
	}
	store := filepath.Join(made, "images")
	testbin.Chmod(t, 0o755, filepath.Dir(made), made, store)
	before := snapshotModes(t, made)
	for _, state := range []string{open, made} {
		for _, args := range [][]string{
			{"image", "ls"},
			{"image", "tag", "demo", "other"},
			{"image", "rm", "demo"},
			{"image", "export", "demo", filepath.Join(open, "demo.tar")},
			{"image", "unpack", "demo", filepath.Join(open, "demo-root")},
			{"image", "pack", root, "mine"},
			{"image", "import", "/dev/null", "mine"},
		} {
			r := testbin.RunAsNobody(t, append([]string{"--state-dir", state}, args...)...)
			want := "workshop: image " + args[1] + " needs root: run it with sudo"
			if r.Code != 125 || !strings.HasPrefix(r.Stderr, want) || strings.Count(r.Stderr, "\n") != 1 || r.Stdout != "" {
				t.Errorf("workshop %q as nobody = %d, stdout %q, stderr %q; want 125 and one line starting %q", args, r.Code, r.Stdout, r.Stderr, want)
			}
		}
	}
	if entries, _ := os.ReadDir(open); len(entries) != 0 {
		t.Errorf("image commands run as nobody left %v in %s", entries, open)
	}
	if after := snapshotModes(t, made); after != before {
		t.Errorf("image commands run as nobody changed the store:\n%s\nit was:\n%s", after, before)
	}
}

// As root too, reading a store that was never made makes none.
func TestImageReadsMakeNoStore(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"image", "ls"}, 0},
		{[]string{"image", "tag", "demo", "other"}, 125},
		{[]string{"image", "rm", "demo"}, 125},
		{[]string{"image", "export", "demo", filepath.Join(t.TempDir(), "demo.tar")}, 125},
		{[]string{"image", "unpack", "demo", filepath.Join(t.TempDir(), "demo-root")}, 125},
	} {
		r := testbin.Run(t, "", append([]string{"--state-dir", state}, tc.args...)...)
		if r.Code != tc.code {
			t.Errorf("workshop %q = %d, want %d\n%s", tc.args, r.Code, tc.code, r.Stderr)
		}
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("reading a store that was never made left %v in the state dir", entries)
	}
}

// snapshotModes describes every path under dir with its mode, so that a
// change to any is seen.
func snapshotModes(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " " + fi.Mode().String() + " " + fi.ModTime().String() + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
