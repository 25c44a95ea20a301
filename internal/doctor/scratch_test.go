package doctor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestStaleScratch(t *testing.T) {
	dir := t.TempDir()
	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	hour := time.Now().Add(-time.Hour)
	mk := func(name string, old bool) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if old {
			if err := os.Chtimes(p, hour, hour); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	dead := mk(fmt.Sprintf("%s%d-1", scratchPrefix, ended.Process.Pid), true)
	mk(fmt.Sprintf("%s%d-2", scratchPrefix, os.Getpid()), true) // a probe under way
	old := mk(scratchPrefix+"3", true)                          // no pid, an hour old
	noPidNew := mk(scratchPrefix+"4", false)                    // no pid, new: maybe an older doctor's, under way
	// Its pid is gone, but it is new: maybe a doctor's in another PID
	// namespace, whose pid means nothing here.
	goneNew := mk(fmt.Sprintf("%s%d-7", scratchPrefix, ended.Process.Pid), false)
	mk("workshop-doctor-5", true) // not ours
	if err := os.WriteFile(filepath.Join(dir, scratchPrefix+"6"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got := StaleScratch(dir)
	slices.Sort(got)
	want := []string{old, dead}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("StaleScratch = %v, want %v", got, want)
	}
	// The new ones no live process here holds: said by clean, left for
	// a minute.
	_, young := ByPid(dir, scratchPrefix)
	slices.Sort(young)
	want = []string{noPidNew, goneNew}
	slices.Sort(want)
	if !slices.Equal(young, want) {
		t.Errorf("ByPid's young = %v, want %v", young, want)
	}
}

func TestScratchDir(t *testing.T) {
	dir := t.TempDir()
	if got := ScratchDir(dir); got != dir {
		t.Errorf("ScratchDir of an existing dir = %q", got)
	}
	if got := ScratchDir(filepath.Join(dir, "a", "b")); got != dir {
		t.Errorf("ScratchDir of a dir not made yet = %q, want its existing parent %q", got, dir)
	}
}
