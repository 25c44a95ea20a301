package state

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// StepsLockName is the file in the state directory on which every running
// `workshop step N` (1 to 5) holds a shared flock(2), and which `workshop
// clean` locks exclusively, without waiting, before it removes a step's
// root. A step that is still filling my-new-root stands in no
// /proc/PID/root inside it: without the lock, clean would take the root
// from under it.
const StepsLockName = ".steps.lock"

// HoldSteps takes the shared lock for a step that runs now, waiting while
// a clean holds it, and returns its release. The state directory must be
// there (the caller makes it first): without it nothing is held, and a
// clean meanwhile, its lock free, would remove the root the step makes.
// Where the lock file cannot be made (not root) nothing is held and the
// step goes on, to fail with its own sentence.
func HoldSteps(stateDir string) (release func()) {
	if fi, err := os.Stat(stateDir); err != nil || !fi.IsDir() {
		return func() {}
	}
	path := filepath.Join(stateDir, StepsLockName)
	// A few tries: each new one follows a clean that removed the file.
	// (Where inode numbers are not stable, a FUSE mount's, the check
	// never passes: the last try's lock is held as it is.)
	for try := 1; ; try++ {
		f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
		if err != nil {
			return func() {}
		}
		// clean holds it only while it removes the roots: a short wait.
		for {
			err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH)
			if !errors.Is(err, syscall.EINTR) {
				break
			}
		}
		// clean removes the file once it is done, holding the lock: a
		// lock taken on the file it removed is a lock on nothing. The
		// one at the path now (made anew) is the one to hold.
		if try == 20 || samePath(f, path) {
			return func() { f.Close() } // closing it releases the lock
		}
		f.Close()
	}
}

// samePath reports whether f is still the file at path.
func samePath(f *os.File, path string) bool {
	held, err1 := f.Stat()
	there, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(held, there)
}
