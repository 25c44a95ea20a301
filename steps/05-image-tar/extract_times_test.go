package imagetar

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// An entry without an access time (a ustar header has none; only PAX
// records carry one) gets its modification time as its access time, as
// GNU tar does. Left unset, it would be the moment of the unpack: two
// imports of one archive would differ, and the image would hold a time
// the archive never had.
func TestUnpackAtimeIsMtimeWithoutOne(t *testing.T) {
	s := newScene(t)
	mt := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	_, err := unpackBytes(s, buildTar(t, dir("d/").withTime(mt), file("d/f", "x").withTime(mt), symlink("d/l", "f").withTime(mt)), UnpackOptions{})
	s.check(t, err)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"d/f", "d/l", "d"} { // Lstat only: a read would move the atime
		fi, err := os.Lstat(filepath.Join(s.dest, name))
		mustDo(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		if at := time.Unix(st.Atim.Unix()); !at.Equal(mt) {
			t.Errorf("%s: atime %v, want its mtime %v", name, at.UTC(), mt)
		}
	}
}
