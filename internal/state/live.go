package state

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// LiveRunIDs are the runs whose workshop lives now, in every state
// directory, each by its id with its directory: the runs whose directory
// (<state>/containers/ID, or .new-ID and .gone-ID while it is made and
// removed) a process holds New's exclusive flock on. /proc/locks lists the
// flocks of the machine by the pid that took each (in this PID namespace,
// or an ancestor's: a workshop in an ancestor's or a sibling's shows no pid,
// and is not found) and the inode locked; that process's descriptors name
// the path.
//
// `workshop clean` in one state directory reads no record of another's, and
// a run's cgroup is named by its id: without this, an old, empty group
// (its container just ended, its workshop about to read and remove it) was
// taken for one a killed run of another state directory left, and removed
// under the live run.
func LiveRunIDs() (map[string]string, error) {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The lockers' pids, and the inodes each holds an exclusive flock on.
	held := map[int]map[uint64]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 4242 00:2d:131078 0 EOF" (the device
		// in hex, the inode in decimal); a waiter's line has "->" after
		// the number, and holds nothing.
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[3] != "WRITE" {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil || pid <= 0 {
			continue // taken in a PID namespace this one cannot see
		}
		dev := strings.Split(fields[5], ":")
		ino, err := strconv.ParseUint(dev[len(dev)-1], 10, 64)
		if err != nil {
			continue
		}
		if held[pid] == nil {
			held[pid] = map[uint64]bool{}
		}
		held[pid][ino] = true
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	live := map[string]string{}
	for pid, inodes := range held {
		fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // ended since
		}
		for _, fd := range fds {
			path := filepath.Join(fdDir, fd.Name())
			target, err := os.Readlink(path)
			// A directory removed while open reads back with this.
			target = strings.TrimSuffix(target, " (deleted)")
			if err != nil || filepath.Base(filepath.Dir(target)) != "containers" {
				continue
			}
			var st syscall.Stat_t
			if syscall.Stat(path, &st) != nil || !inodes[st.Ino] {
				continue
			}
			id := filepath.Base(target)
			for _, prefix := range []string{MakingPrefix, NewPrefix, GonePrefix} {
				id = strings.TrimPrefix(id, prefix)
			}
			id, _, _ = strings.Cut(id, ".") // makingName's pid and the rest
			live[id] = target
		}
	}
	return live, nil
}

// Abandoned reports whether dir, a run's directory, is there and no
// workshop holds New's lock on it: its workshop was killed (or was never
// one, for a directory an older workshop left). With withRecord, only if
// the record, or the temporary file Save writes it to, is in it too: New
// writes it only once it holds the lock, so a directory just made and not
// locked yet is never taken for one. All is looked at through one
// descriptor: a directory its workshop renames or removes meanwhile is
// never taken for an abandoned one.
func Abandoned(dir string, withRecord bool) bool {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if withRecord {
		var st unix.Stat_t
		if unix.Fstatat(fd, recordTemp, &st, unix.AT_SYMLINK_NOFOLLOW) != nil && unix.Fstatat(fd, recordName, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			return false
		}
	}
	if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return false // held (EWOULDBLOCK), or cannot tell
	}
	defer unix.Flock(fd, unix.LOCK_UN)
	// Its workshop lets go of the lock once it has removed it.
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Nlink > 0
}
