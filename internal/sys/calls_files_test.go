package sys

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A copy as step 2 makes it, narrated in strace's notation.
func TestCopyNotation(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	dst := filepath.Join(dir, "dst")
	if err := os.WriteFile(src, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n := New(&buf, Options{})
	in, err := n.Openat(src, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := n.Openat(dst, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o700)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := n.CopyFileRange(in, out, 18); err != nil || c != 18 {
		// Some filesystems refuse copy_file_range; the step falls back to read/write.
		t.Logf("copy_file_range = %d, %v", c, err)
	}
	if err := n.Fchmod(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := n.Futimens(out, unix.Timespec{Sec: 1, Nsec: 2}, unix.Timespec{Sec: 3, Nsec: 4}); err != nil {
		t.Fatal(err)
	}
	n.CloseFd(out)
	n.CloseFd(in)
	want := []string{
		`openat(AT_FDCWD, "` + src + `", O_RDONLY|O_CLOEXEC) = `,
		`openat(AT_FDCWD, "` + dst + `", O_WRONLY|O_CREAT|O_TRUNC|O_NOFOLLOW|O_CLOEXEC, 0700) = `,
		`copy_file_range(`,
		`fchmod(` + itoa(out) + `, 0755) = 0`,
		`utimensat(` + itoa(out) + `, NULL, [{tv_sec=1, tv_nsec=2}, {tv_sec=3, tv_nsec=4}], 0) = 0`,
		`close(` + itoa(out) + `) = 0`,
		`close(` + itoa(in) + `) = 0`,
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("narration has %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want it to start %q", i+1, lines[i], w)
		}
	}
	fi, err := os.Stat(dst)
	if err != nil || fi.Mode().Perm() != 0o755 || fi.ModTime().Unix() != 3 {
		t.Errorf("copied file: %v, %v, want mode 0755 and mtime 3", fi, err)
	}
}

func TestReadWriteNotation(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	var buf bytes.Buffer
	n := New(&buf, Options{})
	fd, err := n.Openat(f, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	long := strings.Repeat("x", 40)
	if w, err := n.Write(fd, []byte(long)); err != nil || w != 40 {
		t.Fatalf("Write = %d, %v", w, err)
	}
	b := make([]byte, 8)
	if r, err := n.Read(fd, b); err != nil || r != 0 {
		t.Fatalf("Read at the end = %d, %v", r, err)
	}
	out := buf.String()
	for _, w := range []string{
		`write(` + itoa(fd) + `, "` + strings.Repeat("x", 32) + `"..., 40) = 40`,
		`read(` + itoa(fd) + `, "", 8) = 0`,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("narration %q lacks %q", out, w)
		}
	}
}

func TestMkdirAllNarratesOnlyWhatItMakes(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	n := New(&buf, Options{})
	if err := n.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := n.MkdirAll(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := `mkdirat(AT_FDCWD, "` + dir + `/a", 0755) = 0` + "\n" + `mkdirat(AT_FDCWD, "` + dir + `/a/b", 0755) = 0` + "\n"
	if buf.String() != want {
		t.Errorf("MkdirAll narrated\n%s\nwant\n%s", buf.String(), want)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if err := n.MkdirAll(filepath.Join(file, "x"), 0o755); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("MkdirAll under a file = %v, want ENOTDIR", err)
	}
}

func TestStatNotation(t *testing.T) {
	var buf bytes.Buffer
	n := New(&buf, Options{})
	st, err := n.Stat("/")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), `newfstatat(AT_FDCWD, "/", {st_dev=makedev(`) || !strings.Contains(buf.String(), "st_ino="+itoa(int(st.Ino))) {
		t.Errorf("Stat narrated %q", buf.String())
	}
	buf.Reset()
	if _, err := n.Stat("/no/such/dir"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("Stat of a missing path = %v", err)
	}
	if !strings.Contains(buf.String(), `"/no/such/dir", 0x0, 0) = -1 ENOENT`) {
		t.Errorf("failed Stat narrated %q", buf.String())
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// A file closed before makes no close(2) now: nothing is narrated.
func TestCloseOfAClosedFileNarratesNothing(t *testing.T) {
	var out bytes.Buffer
	n := New(&out, Options{})
	f, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(f); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(f); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close = %v, want os.ErrClosed", err)
	}
	if got := strings.Count(out.String(), "close("); got != 1 {
		t.Errorf("two Closes narrated %d close lines, want 1:\n%s", got, out.String())
	}
}
