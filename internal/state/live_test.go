package state

import (
	"os"
	"path/filepath"
	"testing"
)

// The runs whose workshop lives are found by their locks, in every state
// directory, under the names a run's directory has while it is removed
// too; a run whose workshop let go is not among them.
func TestLiveRunIDs(t *testing.T) {
	a, b := &Run{ID: "aaaaaaaaaaaa"}, &Run{ID: "bbbbbbbbbbbb"}
	for _, r := range []*Run{a, b} {
		if err := New(t.TempDir(), r); err != nil {
			t.Fatal(err)
		}
		defer r.LetGo()
	}
	// b's workshop removing its directory (Forget's rename, its lock held).
	if err := os.Rename(b.Dir(), b.GoneDir()); err != nil {
		t.Fatal(err)
	}
	live, err := LiveRunIDs()
	if err != nil {
		t.Fatal(err)
	}
	if live[a.ID] != a.Dir() || live[b.ID] != b.GoneDir() {
		t.Errorf("LiveRunIDs() = %v, want %s in %s and %s in %s (two state directories)", live, a.ID, a.Dir(), b.ID, b.GoneDir())
	}
	if Abandoned(b.GoneDir(), false) {
		t.Errorf("Abandoned(%s) = true while its lock is held", b.GoneDir())
	}
	a.LetGo()
	if live, err := LiveRunIDs(); err != nil || live[a.ID] != "" || live[b.ID] == "" {
		t.Errorf("LiveRunIDs() = %v, %v after %s let go, want %s alone", live, err, a.ID, b.ID)
	}
}

// A run's directory is abandoned once no workshop holds its lock, and, for
// one being made, once the record was being written in it; never one its
// workshop removed meanwhile.
func TestAbandoned(t *testing.T) {
	r := &Run{ID: "cccccccccccc"}
	if err := New(t.TempDir(), r); err != nil {
		t.Fatal(err)
	}
	if Abandoned(r.Dir(), true) {
		t.Errorf("Abandoned(%s) = true while its workshop holds it", r.Dir())
	}
	r.LetGo()
	if !Abandoned(r.Dir(), true) || !Abandoned(r.Dir(), false) {
		t.Errorf("Abandoned(%s) = false once no one holds it", r.Dir())
	}
	bare := filepath.Join(t.TempDir(), NewPrefix+"dddddddddddd")
	if err := os.Mkdir(bare, 0o700); err != nil {
		t.Fatal(err)
	}
	if Abandoned(bare, true) {
		t.Errorf("Abandoned(%s, true) = true for a directory with no record in it yet (just made, maybe)", bare)
	}
	if Abandoned(filepath.Join(t.TempDir(), "gone"), false) {
		t.Error("Abandoned of a directory that is not there = true")
	}
}
