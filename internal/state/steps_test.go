package state

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// clean removes the steps' lock file while it holds it: a step that was
// waiting for it then holds the file made anew at the path, not the
// removed one, so a clean after it still sees the step.
func TestHoldStepsAfterTheLockFileWasRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StepsLockName)
	cleanLock, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(cleanLock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	held := make(chan func())
	go func() { held <- HoldSteps(dir) }()
	time.Sleep(50 * time.Millisecond) // the step opens the file, and waits
	select {
	case release := <-held:
		release()
		t.Fatal("HoldSteps returned while clean held the lock")
	default:
	}
	os.Remove(path)
	cleanLock.Close()
	release := <-held
	defer release()
	other, err := os.Open(path)
	if err != nil {
		t.Fatalf("no lock file at %s once the step holds it: %v", path, err)
	}
	defer other.Close()
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Errorf("flock(LOCK_EX|LOCK_NB) of the lock file at the path = %v, want EWOULDBLOCK: the step holds the removed file", err)
	}
}
