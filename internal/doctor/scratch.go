package doctor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// scratchPrefix starts the name of the directory the mount probe works in
// (tryMounts), followed by doctor's pid: a doctor killed with SIGKILL
// leaves it, and the pid tells a leftover from a probe under way.
const scratchPrefix = ".workshop-doctor-"

// ScratchDir is where doctor's mount probe works for a state dir: in it,
// or, before it exists, in its nearest existing parent (on the
// filesystem the state dir will be on).
func ScratchDir(stateDir string) string {
	if fi, err := os.Stat(stateDir); err == nil && fi.IsDir() {
		return stateDir
	}
	return existingAncestor(stateDir)
}

// StaleScratch lists the probe directories in dir that a doctor killed
// halfway left: those a minute old whose doctor is gone (or that were
// named without a pid, before names carried one).
func StaleScratch(dir string) []string { return StaleByPid(dir, scratchPrefix) }

// StaleByPid lists the directories in dir named prefix, a pid, "-" and
// more, that a workshop killed halfway left: a minute old, and the
// process of that pid gone (doctor's probe's, lab 5's copy of an archive).
func StaleByPid(dir, prefix string) []string {
	stale, _ := ByPid(dir, prefix)
	return stale
}

// ByPid is StaleByPid's list, and those whose process is gone too but
// that are not a minute old yet (young): left by a workshop killed moments
// ago, or made by one in another PID namespace (whose pid means nothing
// here) still at work. 'workshop clean' removes the first and says the
// second, to be removed by a clean a minute later.
func ByPid(dir, prefix string) (stale, young []string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.IsDir() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		// PID-RANDOM; before names carried a pid, RANDOM alone (digits
		// too, which are no pid).
		pidPart, _, withPid := strings.Cut(rest, "-")
		if pid, err := strconv.Atoi(pidPart); withPid && err == nil && pid > 0 {
			// Signal 0 checks that a process is there; EPERM means one
			// is, of another user's.
			if err := syscall.Kill(pid, 0); err == nil || err == syscall.EPERM {
				continue
			}
		}
		// A minute old at least, whatever its pid says: a doctor in
		// another PID namespace sharing the state dir has a pid that
		// means nothing here (its probe takes a second at most).
		if time.Since(fi.ModTime()) < time.Minute {
			young = append(young, filepath.Join(dir, e.Name()))
			continue
		}
		stale = append(stale, filepath.Join(dir, e.Name()))
	}
	return stale, young
}
