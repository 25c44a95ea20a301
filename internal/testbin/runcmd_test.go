package testbin

import (
	"os/exec"
	"testing"
	"time"
)

func TestRunCmd(t *testing.T) {
	r := RunCmd(t, exec.Command("/bin/sh", "-c", "echo out; echo err >&2; exit 3"), time.Minute)
	if r != (Result{Stdout: "out\n", Stderr: "err\n", Code: 3}) {
		t.Errorf("RunCmd = %+v, want out, err and code 3", r)
	}
}
