package imagetar

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/sys"
)

// The limits of checkEntry, at their edges: the largest id and device
// numbers the kernel keeps are taken, the next ones refused. Without these
// cases a limit off by one, or a minor left unchecked, goes unnoticed: a
// uid of 4294967295 is -1 to chown, "no change", so the file would keep
// the importer's owner; a minor of 1<<20 cut to the kernel's 20 bits makes
// another device (8:1048576 would be 8:0, the first disk, on a kernel that
// kept the low bits).
func TestImportRefusesIDsAndDevicesPastTheKernels(t *testing.T) {
	blockdev := func(name string, maj, min int64) entry {
		return entry{typ: tar.TypeBlock, name: name, mode: 0o660, major: maj, minor: min}
	}
	s := OpenStore(t.TempDir())
	tmp := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"uid of 4294967295 (-1 to chown)", buildTar(t, file("f", "x").withOwner(1<<32-1, 0)), `entry "f": its owner's uid 4294967295 is out of range (0 to 4294967294)`},
		{"gid of 4294967295 (-1 to chown)", buildTar(t, file("f", "x").withOwner(0, 1<<32-1)), `entry "f": its owner's gid 4294967295 is out of range (0 to 4294967294)`},
		{"a minor past 20 bits", buildTar(t, blockdev("dev/sda", 8, 1<<20)), `entry "dev/sda": its device number 8:1048576 is none Linux has (majors 0 to 4095, minors 0 to 1048575)`},
		{"a major past 12 bits", buildTar(t, chardev("dev/x", 1<<12, 0)), `entry "dev/x": its device number 4096:0 is none Linux has`},
	} {
		_, err := s.Import(bg, sys.Discard(), writeFile(t, tmp, "archive.tar", tc.data), "bad")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Import = %v\nwant an error with %q", tc.name, err, tc.want)
		}
		if got := strings.Join(storeDirs(t, s), " "); got != "lock" {
			t.Errorf("%s: after Import fails, the store holds %q, want nothing but its lock", tc.name, got)
		}
	}
	// The edges themselves pass checkEntry: a refusal of them would turn
	// away real images (nobody's 65534 is far below, but ids are 32 bits).
	for _, hdr := range []*tar.Header{
		{Typeflag: tar.TypeReg, Name: "f", Uid: 1<<32 - 2, Gid: 1<<32 - 2},
		{Typeflag: tar.TypeBlock, Name: "dev/x", Devmajor: 1<<12 - 1, Devminor: 1<<20 - 1},
	} {
		if err := checkEntry(hdr, hdr.Name); err != nil {
			t.Errorf("checkEntry(%s, uid %d, gid %d, device %d:%d) = %v, want it taken", hdr.Name, hdr.Uid, hdr.Gid, hdr.Devmajor, hdr.Devminor, err)
		}
	}
}

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
