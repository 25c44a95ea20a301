package regfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// A regular file opens, through a symlink too; a FIFO and a device node
// are refused without being opened (the FIFO's open would wait for a
// writer), and a missing file is os.ErrNotExist.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"file", "link"} {
		f, err := Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("Open(%s) = %v", name, err)
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil || string(b) != "content" {
			t.Errorf("Open(%s) read %q, %v", name, b, err)
		}
	}
	fifo := filepath.Join(dir, "fifo")
	stop := testbin.MakeFIFO(t, fifo)
	_, err := Open(fifo)
	if stop() {
		t.Errorf("Open(a FIFO) waited for a writer")
	}
	if !errors.Is(err, ErrNotRegular) || err.Error() != fifo+" is not a regular file: it is a named pipe (a FIFO)" {
		t.Errorf("Open(a FIFO) = %v, want ErrNotRegular, said in words", err)
	}
	if _, err := Open("/dev/zero"); !errors.Is(err, ErrNotRegular) || err.Error() != "/dev/zero is not a regular file: it is a character device" {
		t.Errorf("Open(/dev/zero) = %v, want ErrNotRegular, said in words", err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrNotRegular) || err.Error() != dir+" is not a regular file: it is a directory" {
		t.Errorf("Open(a directory) = %v, want ErrNotRegular, said in words", err)
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(a missing file) = %v, want os.ErrNotExist", err)
	}
}
