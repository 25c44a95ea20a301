package state

import (
	"os"
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
	if !live[a.ID] || !live[b.ID] {
		t.Errorf("LiveRunIDs() = %v, want both %s and %s (two state directories, one renamed to %s)", live, a.ID, b.ID, b.GoneDir())
	}
	if !HeldByALiveProcess(b.GoneDir()) {
		t.Errorf("HeldByALiveProcess(%s) = false while its lock is held", b.GoneDir())
	}
	a.LetGo()
	if live, err := LiveRunIDs(); err != nil || live[a.ID] || !live[b.ID] {
		t.Errorf("LiveRunIDs() = %v, %v after %s let go, want %s alone", live, err, a.ID, b.ID)
	}
}
