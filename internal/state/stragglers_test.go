package state

import (
	"os"
	"testing"
)

// A marker is there while its step runs, read back by clean's look as it
// was written, and gone with its directory once the step is done.
func TestStragglers(t *testing.T) {
	stateDir := t.TempDir()
	want := Stragglers{Root: "/var/lib/workshop/my-new-root", Namespaces: map[string]string{"mnt": "mnt:[4026532000]"}, Own: []string{"mnt"}}
	m, err := TrackStragglers(stateDir, "0123456789ab", want)
	if err != nil {
		t.Fatal(err)
	}
	got := StaleStragglers(stateDir)
	if len(got) != 1 || got[0].Namespaces["mnt"] != want.Namespaces["mnt"] || got[0].Root != want.Root || got[0].Path() != m.Path() {
		t.Errorf("StaleStragglers = %+v, want %+v at %s", got, want, m.Path())
	}
	m.Done()
	if _, err := os.Lstat(StragglersDir(stateDir)); !os.IsNotExist(err) {
		t.Errorf("the markers' directory is still there once the only step is done: %v", err)
	}
	var none *Stragglers
	none.Done() // no marker: nothing to do, no panic
}
