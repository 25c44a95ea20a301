package imagetar

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
)

// Only an addition makes the store. Reading it (ls, resolve, export,
// unpack), or tagging and removing in a store that holds nothing, makes no
// directory and no lock, and changes no mode.
func TestReadingMakesNoStore(t *testing.T) {
	state := t.TempDir()
	s := OpenStore(state)
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Errorf("List of a store never made = %v, %v; want nothing and no error", list, err)
	}
	if _, err := s.Resolve("demo"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve = %v, want ErrNotFound", err)
	}
	if _, _, err := s.Tag(sys.Discard(), "demo", "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Tag = %v, want ErrNotFound", err)
	}
	if _, _, err := s.Remove(sys.Discard(), "demo"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove = %v, want ErrNotFound", err)
	}
	out := filepath.Join(t.TempDir(), "demo.tar")
	if _, err := s.Export(bg, sys.Discard(), "demo", out); !errors.Is(err, ErrNotFound) {
		t.Errorf("Export = %v, want ErrNotFound", err)
	}
	if _, _, err := s.Unpack(bg, sys.Discard(), "demo", filepath.Join(t.TempDir(), "copy"), false); !errors.Is(err, ErrNotFound) {
		t.Errorf("Unpack = %v, want ErrNotFound", err)
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("reading a store that was never made left %v in the state dir", entries)
	}
}

func TestReadingLeavesTheStoreAlone(t *testing.T) {
	s := OpenStore(t.TempDir())
	if _, err := s.Pack(bg, sys.Discard(), makeTree(t), "demo:1"); err != nil {
		t.Fatal(err)
	}
	// Someone opened it up; a read is no place to change that (the next
	// addition, which takes the store for writing, makes it root's again).
	mustDo(t, os.Chmod(s.Dir(), 0o755))
	if _, err := s.List(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve("demo:1"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(s.Dir()); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("after reads, the store's mode is %v (%v), want 0755 as it was", fi.Mode().Perm(), err)
	}
	if _, _, err := s.Tag(sys.Discard(), "demo:1", "demo:2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pack(bg, sys.Discard(), makeTree(t), "demo:3"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(s.Dir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("after an addition, the store's mode is %v (%v), want 0700", fi.Mode().Perm(), err)
	}
}
