package imagetar_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// runAsNobody runs the binary as uid/gid 65534, as a student who forgot
// sudo. The binary is copied where nobody may run it (the test binary's
// own temp dir is private to root).
func runAsNobody(t *testing.T, args ...string) testbin.Result {
	t.Helper()
	testbin.NeedRoot(t)
	dir, err := os.MkdirTemp("", "workshop-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "workshop")
	src, err := os.Open(testbin.Bin(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %q as nobody: %v", args, err)
	}
	return testbin.Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// The image store is root's: every image command, run without sudo, says
// so in one sentence (125) and makes or changes nothing, even where nobody
// could have made the store (a state dir open to all).
func TestImageCommandsNeedRoot(t *testing.T) {
	testbin.NeedRoot(t)
	open := t.TempDir()
	for _, d := range []string{filepath.Dir(open), open} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	made := t.TempDir() // a store root made, then opened up by mistake
	root, _ := rootWithLeasable(t)
	if r := testbin.Run(t, "", "--state-dir", made, "image", "pack", root, "demo"); r.Code != 0 {
		t.Fatalf("image pack as root = %d\n%s", r.Code, r.Stderr)
	}
	store := filepath.Join(made, "images")
	for _, d := range []string{filepath.Dir(made), made, store} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
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
			r := runAsNobody(t, append([]string{"--state-dir", state}, args...)...)
			want := "workshop: workshop image " + args[1] + " needs root: run it with sudo"
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
