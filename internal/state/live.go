package state

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LiveRunIDs are the ids of the runs whose workshop lives now, in every
// state directory of this machine: the runs whose directory
// (<state>/containers/ID, or .new-ID and .gone-ID while it is made and
// removed) a process holds New's exclusive flock on. /proc/locks lists
// every flock of the machine, by its holder's pid and the inode locked; the
// holder's descriptors name the path.
//
// `workshop clean` in one state directory reads no record of another's, and
// a run's cgroup is named by its id: without this, an old, empty group
// (its container just ended, its workshop about to read and remove it) was
// taken for one a killed run of another state directory left, and removed
// under the live run.
func LiveRunIDs() (map[string]bool, error) {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The holders' pids, and the inodes each holds an exclusive flock on.
	held := map[int]map[uint64]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 4242 00:2d:131078 0 EOF"; a waiter's
		// line has "->" after the number, and holds nothing.
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[3] != "WRITE" {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil || pid <= 0 {
			continue // held by a process of another PID namespace
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
	live := map[string]bool{}
	for pid, inodes := range held {
		fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // ended since
		}
		for _, fd := range fds {
			path := filepath.Join(fdDir, fd.Name())
			target, err := os.Readlink(path)
			if err != nil || filepath.Base(filepath.Dir(target)) != "containers" {
				continue
			}
			var st syscall.Stat_t
			if syscall.Stat(path, &st) != nil || !inodes[st.Ino] {
				continue
			}
			id := filepath.Base(target)
			for _, prefix := range []string{NewPrefix, GonePrefix} {
				id = strings.TrimPrefix(id, prefix)
			}
			live[id] = true
		}
	}
	return live, nil
}

// HeldByALiveProcess reports whether a workshop holds the flock of New on
// dir, a run's directory under any of its names: its run lives, and is
// being made or removed by that workshop if the name is .new- or .gone-.
func HeldByALiveProcess(dir string) bool { return heldByALiveProcess(dir) }

// KilledWhileRecording reports whether dir, a run's directory being made
// (.new-ID), was left by a workshop killed while it recorded the run: its
// record's temporary file is there, which New writes only once it holds the
// directory's lock, and no process holds that lock. (Without the file, a
// directory just made and not yet locked cannot be told from a killed one
// but by its age.)
func KilledWhileRecording(dir string) bool {
	if _, err := os.Lstat(filepath.Join(dir, recordTemp)); err != nil {
		if _, err := os.Lstat(filepath.Join(dir, recordName)); err != nil {
			return false
		}
	}
	return !heldByALiveProcess(dir)
}
