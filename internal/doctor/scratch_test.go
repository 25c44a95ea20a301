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
	mk := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dead := mk(fmt.Sprintf("%s%d-1", scratchPrefix, ended.Process.Pid))
	mk(fmt.Sprintf("%s%d-2", scratchPrefix, os.Getpid())) // a probe under way
	old := mk(scratchPrefix + "3")                        // no pid, an hour old
	hour := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, hour, hour); err != nil {
		t.Fatal(err)
	}
	mk(scratchPrefix + "4") // no pid, new: maybe an older doctor's, under way
	mk("workshop-doctor-5") // not ours
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
