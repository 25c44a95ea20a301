package testbin

import (
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// LockedDir makes dir (with mode) and holds an exclusive flock on it, as
// another workshop holding that lock would, until release or the test's
// end.
func LockedDir(t testing.TB, dir string, mode os.FileMode) (release func()) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	return LockedFile(t, dir)
}

// LockedFile holds an exclusive flock on the existing file (or directory)
// path, as another workshop holding that lock would, until release or the
// test's end.
func LockedFile(t testing.TB, path string) (release func()) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { unix.Close(fd) }) } // closing it releases the lock
	t.Cleanup(release)
	return release
}
