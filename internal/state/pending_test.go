package state

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A marker appears in the pending directory under its own name only,
// whole and held: never under a temporary name a killed command would
// leave there (clean let such a one be for a minute). Seen by inotify:
// every name made in the directory.
func TestPendingMarkerAppearsWholeAndHeld(t *testing.T) {
	stateDir := t.TempDir()
	dir := PendingDir(stateDir)
	if err := MkdirPrivate(dir); err != nil {
		t.Fatal(err)
	}
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(in)
	if _, err := unix.InotifyAddWatch(in, dir, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	// A second marker keeps the directory there when the first is done.
	keep, err := TrackPending(stateDir, "/srv/other")
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Done()
	p, err := TrackPending(stateDir, "/srv/half-unpacked")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	buf := make([]byte, 4096)
	n, _ := unix.Read(in, buf)
	for off := 0; off+unix.SizeofInotifyEvent <= n; {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
		names = append(names, name)
		off += unix.SizeofInotifyEvent + int(ev.Len)
	}
	want := []string{filepath.Base(keep.path), filepath.Base(p.path)}
	// A filesystem without O_TMPFILE (ramfs, an older overlayfs) gets
	// the other way: each marker under its temporary name, then its own.
	if fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600); err != nil {
		t.Logf("no O_TMPFILE in %s (%v): markers are renamed into place", dir, err)
		want = []string{NewPrefix + want[0], want[0], NewPrefix + want[1], want[1]}
	} else {
		unix.Close(fd)
	}
	if !slices.Equal(names, want) {
		t.Errorf("names made in %s = %q, want %q and no other", dir, names, want)
	}
	if !heldByALiveProcess(p.path) {
		t.Errorf("the marker %s is not held", p.path)
	}
	var rec pendingRecord
	if b, err := os.ReadFile(p.path); err != nil || json.Unmarshal(b, &rec) != nil || rec.Path != "/srv/half-unpacked" {
		t.Errorf("the marker reads %+v (%v), want the path it records", rec, err)
	}
	if stale := StalePending(stateDir); len(stale) != 0 {
		t.Errorf("StalePending while both markers are held = %+v, want none", stale)
	}
	p.Done()
	if _, err := os.Stat(p.path); !os.IsNotExist(err) {
		t.Errorf("the marker is still there after Done: %v", err)
	}
}

// Where O_TMPFILE is missing, the marker is made under a temporary name and
// renamed: held and whole under its own name too.
func TestPendingMarkerRenamed(t *testing.T) {
	dir := PendingDir(t.TempDir())
	p, err := trackRenamed(dir, "0123456789ab.json", []byte(`{"path":"/srv/x"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Done()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "0123456789ab.json" || !heldByALiveProcess(p.path) {
		t.Errorf("entries of %s = %v, want the marker alone, held", dir, entries)
	}
}
