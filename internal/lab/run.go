package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// runIn runs argv chrooted into root, as `chroot ROOT argv…` would, and
// returns its stdout and error. It is bounded so a hung program cannot hang
// the check.
func runIn(root string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Op == "fork/exec" {
		// os/exec's words for an execve that failed: the kernel's call, as
		// the student would run it (exec format error: not a program of
		// this machine; ENOENT: no such file, or no loader for it).
		return "", fmt.Errorf("execve(%q) inside the root failed: %w", argv[0], pe.Err)
	}
	if err != nil && errb.Len() > 0 {
		return out.String(), &runError{err: err, stderr: errb.String()}
	}
	return out.String(), err
}

type runError struct {
	err    error
	stderr string
}

func (e *runError) Error() string { return e.err.Error() + ": " + strings.TrimSpace(e.stderr) }
func (e *runError) Unwrap() error { return e.err }
