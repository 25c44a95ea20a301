package state

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A pending path is a temporary file or directory a command makes outside
// the state dir, beside what it writes (`image unpack`'s DIR, `image
// export`'s FILE), and renames into place once whole. A kill -9 leaves it
// there, where no one would look: so it is recorded under
// <state>/pending while it is made, in a marker its command holds an
// exclusive flock on for as long as it lives, and 'workshop clean' removes
// the path of a marker no one holds (StalePending). Step 2's half copies
// (.NAME.workshop-copy, in a root wherever it is) are recorded too, with
// the root whose lock their copier holds (TrackPendingLocked).

// PendingDir is where the markers are.
func PendingDir(stateDir string) string { return filepath.Join(stateDir, "pending") }

// Pending is a marker this process holds.
type Pending struct {
	f    *os.File
	path string // the marker's
}

type pendingRecord struct {
	Path string `json:"path"`
	// Lock, when set, is a directory whose flock the path's writer
	// holds while it works there (a root step 2 fills): one made again at
	// the same name by a later writer is in use while it is held.
	Lock string `json:"lock,omitempty"`
}

// TrackPending records path (absolute) as pending, before it is made. The
// marker appears in the pending directory whole and locked (trackUnnamed):
// one a clean sees there is held until its command ends.
func TrackPending(stateDir, path string) (*Pending, error) {
	return track(stateDir, pendingRecord{Path: path})
}

// TrackPendingLocked is TrackPending of a path whose name a later writer
// may use again, and which a writer makes only while it holds an flock on
// lockDir: clean removes it only while holding that lock itself.
func TrackPendingLocked(stateDir, path, lockDir string) (*Pending, error) {
	return track(stateDir, pendingRecord{Path: path, Lock: lockDir})
}

func track(stateDir string, rec pendingRecord) (*Pending, error) {
	dir := PendingDir(stateDir)
	var b [6]byte
	rand.Read(b[:])
	name := hex.EncodeToString(b[:]) + ".json"
	data, _ := json.Marshal(rec)
	p, err := trackUnnamed(dir, name, data)
	if errors.Is(err, errNoTmpfile) {
		p, err = trackRenamed(dir, name, data)
	}
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", rec.Path, err)
	}
	return p, nil
}

// errNoTmpfile: the filesystem cannot make an unnamed file (O_TMPFILE).
var errNoTmpfile = errors.New("no O_TMPFILE here")

// trackUnnamed makes the marker unnamed (O_TMPFILE), locks it, writes it,
// and only then links it into dir: it appears there whole and held, and a
// command killed before the link leaves nothing. (Under a temporary name,
// a kill before the lock left one clean could not tell from a marker
// being made by a live command: it left it for a minute.)
func trackUnnamed(dir, name string, data []byte) (*Pending, error) {
	// The link is made through /proc/self/fd (any user may; AT_EMPTY_PATH
	// needs CAP_DAC_READ_SEARCH): without a /proc, the other way.
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		return nil, errNoTmpfile
	}
	var f *os.File
	for try := 0; ; try++ {
		if err := MkdirPrivate(dir); err != nil {
			return nil, err
		}
		fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
		if err == nil {
			f = os.NewFile(uintptr(fd), filepath.Join(dir, name))
			break
		}
		// Removed between the mkdir and the open (clean, or the last
		// marker's Done, removes it empty): made again.
		if errors.Is(err, unix.ENOENT) && try < 2 {
			continue
		}
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
			return nil, errNoTmpfile
		}
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	err := holdExclusive(f)
	if err == nil {
		_, err = f.Write(data)
	}
	final := filepath.Join(dir, name)
	unnamed := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	for try := 0; err == nil; try++ {
		// The unnamed file is no entry of dir, which may be removed
		// empty meanwhile: made again, the link goes into the new one.
		err = unix.Linkat(unix.AT_FDCWD, unnamed, unix.AT_FDCWD, final, unix.AT_SYMLINK_FOLLOW)
		if err != nil {
			err = &os.LinkError{Op: "link", Old: unnamed, New: final, Err: err}
		}
		if !errors.Is(err, unix.ENOENT) || try == 2 {
			break
		}
		err = MkdirPrivate(dir)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Pending{f: f, path: final}, nil
}

// trackRenamed makes the marker under a temporary name, locks it, writes
// it, then renames it: where O_TMPFILE is missing. A clean sees one by its
// final name held until its command ends; one under its temporary name, it
// takes for a marker being made until it is a minute old.
func trackRenamed(dir, name string, data []byte) (*Pending, error) {
	tmp := filepath.Join(dir, NewPrefix+name)
	f, err := createMarker(dir, NewPrefix+name)
	if err != nil {
		return nil, err
	}
	err = holdExclusive(f)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	return &Pending{f: f, path: filepath.Join(dir, name)}, nil
}

// Done removes the marker: the path was renamed into place, or removed.
func (p *Pending) Done() {
	os.Remove(p.path)
	p.f.Close()
	// And the directory, when this was its last marker (a marker made
	// meanwhile makes it again: TrackPending tries its mkdir again).
	os.Remove(filepath.Dir(p.path))
}

// StalePath is a pending path whose command is gone.
type StalePath struct {
	Path   string // what it made, if it is still there
	Lock   string // see TrackPendingLocked; "" for most
	marker string
}

// Forget removes the marker, once the path is gone.
func (s StalePath) Forget() error { return os.Remove(s.marker) }

// StalePending lists the markers under stateDir that no command holds:
// their commands were killed. A marker still under its temporary name,
// unheld, was never renamed: its command died before making its path, and
// it is listed with no Path.
func StalePending(stateDir string) []StalePath {
	dir := PendingDir(stateDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var stale []StalePath
	for _, e := range entries {
		marker := filepath.Join(dir, e.Name())
		// One being made is locked a moment after it is created: one
		// under its temporary name is taken only once it is old.
		if info, err := e.Info(); err != nil || strings.HasPrefix(e.Name(), NewPrefix) && time.Since(info.ModTime()) < time.Minute {
			continue
		}
		if heldByALiveProcess(marker) {
			continue
		}
		var rec pendingRecord
		data, rerr := os.ReadFile(marker)
		s := StalePath{marker: marker}
		if rerr == nil && json.Unmarshal(data, &rec) == nil && !strings.HasPrefix(e.Name(), NewPrefix) {
			s.Path, s.Lock = rec.Path, rec.Lock
		}
		stale = append(stale, s)
	}
	return stale
}
