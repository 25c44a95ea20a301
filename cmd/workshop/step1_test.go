package main

import (
	"os"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

func TestStepsListsStep1And2(t *testing.T) {
	r := testbin.Run(t, "", "steps")
	if r.Code != 0 {
		t.Fatalf("workshop steps = %d; stderr %s", r.Code, r.Stderr)
	}
	for _, want := range []string{"1  chroot ", "2  ldd-copy "} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("workshop steps lacks %q:\n%s", want, r.Stdout)
		}
	}
}

func TestCompletion(t *testing.T) {
	r := testbin.Run(t, "", "completion", "bash")
	if r.Code != 0 || !strings.Contains(r.Stdout, "__start_workshop") {
		t.Errorf("workshop completion bash = %d, %.200q", r.Code, r.Stdout)
	}
	// The step numbers complete.
	r = testbin.Run(t, "", "__complete", "step", "")
	if r.Code != 0 || !strings.Contains(r.Stdout, "1\t") || !strings.Contains(r.Stdout, "2\t") {
		t.Errorf("completion of 'workshop step ' = %d, %q", r.Code, r.Stdout)
	}
}

func TestUnknownStepAndFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"step", "99"}, "there is no step 99"},
		{[]string{"step", "1", "--nope"}, "unknown flag: --nope"},
		{[]string{"step", "2", "--nope"}, "unknown flag: --nope"},
	} {
		r := testbin.Run(t, "", tc.args...)
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("workshop %q = %d, %q; want 125 and one sentence with %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
}

func TestStepsNeedRoot(t *testing.T) {
	state := t.TempDir()
	for _, args := range [][]string{
		{"step", "1"},
		{"step", "1", "--demo", "escape"},
		{"step", "2"},
		{"step", "2", "--", "/bin/bash", "-c", "pwd"},
		{"step", "3"},
		{"step", "4", "--", "/bin/true"},
		{"step", "5"},
		{"full", "run", "--", "/bin/true"},
		{"ps"},
		{"diff", "some-id"},
		{"kill", "some-id"},
		{"clean"},
		{"lab", "2", "check"},
		{"image", "ls"},
	} {
		r := testbin.RunAsNobody(t, append([]string{"--state-dir", state}, args...)...)
		if r.Code != 125 || !strings.Contains(r.Stderr, "needs root: run it with sudo") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 ||
			strings.Count(r.Stderr, "workshop") > 2 { // "workshop: workshop image ls needs root"
			t.Errorf("workshop %q as nobody = %d, %q; want 125 and the sentence about sudo", args, r.Code, r.Stderr)
		}
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("a refused run left %v in the state dir", entries)
	}
}
