package main

// The integration tests of this package run the real binary, built once by
// TestMain, as root with real namespaces and cgroups. Each feature has a test
// file of its own (step1_test.go, step2_test.go, …); what they share is here.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// workshopBin is the binary under test.
var workshopBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "workshop-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	workshopBin = filepath.Join(dir, "workshop")
	build := exec.Command("go", "build", "-o", workshopBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build workshop:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needRoot skips a test that needs root when not root, except in CI
// (CI=true), where such a test must fail instead: CI is root, and a skipped
// test there would hide a broken setup.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("this test needs root, and CI runs as root: something is wrong with the CI setup")
	}
	t.Skip("needs root (run the tests with sudo)")
}

// needTool is needRoot for a host tool a test uses (strace, busybox…): CI
// installs them, so there a missing tool is a failure.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed, and .ci/run must install it", name)
	}
	t.Skipf("needs %s", name)
	return ""
}

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

// workshop runs the binary with args, a fresh state dir unless args name one,
// no colour, and stdin from the given string (not a terminal).
func workshop(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return workshopEnv(t, nil, stdin, args...)
}

// workshopEnv is workshop with extra environment variables.
func workshopEnv(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, workshopBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewBufferString(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run workshop %q: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// stateDir makes a state dir for one test, removed after it.
func stateDir(t *testing.T) string {
	t.Helper()
	return t.TempDir()
}
