package doctor

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func fixed(fs ...Finding) Check {
	return Check{Name: "fixed", Why: "because", Run: func(*Host) []Finding { return fs }}
}

func TestRunReport(t *testing.T) {
	for _, tc := range []struct {
		name     string
		findings []Finding
		passed   bool
		closing  string
	}{
		{"all ok", []Finding{{Status: OK, Name: "root", Detail: "running as root"}}, true, "Everything the steps need is here."},
		{"a warning passes", []Finding{{Status: Warn, Name: "strace", Detail: "missing", Fix: "apt-get install strace"}}, true, "1 warning"},
		{"skip passes", []Finding{{Status: Skip, Name: "x", Detail: "not tried"}}, true, "Everything the steps need is here."},
		{"a failure fails", []Finding{{Status: Fail, Name: "a", Fix: "do a"}, {Status: Fail, Name: "b", Fix: "do b"}}, false, "2 checks failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			passed, err := Run(&out, fakeHost(t), []Check{fixed(tc.findings...)}, Options{})
			if err != nil || passed != tc.passed {
				t.Errorf("Run = %v, %v; want %v, nil", passed, err, tc.passed)
			}
			if !strings.Contains(out.String(), tc.closing) {
				t.Errorf("report %q does not close with %q", out.String(), tc.closing)
			}
			for _, f := range tc.findings {
				line := f.Status.String()
				if !strings.Contains(out.String(), line) {
					t.Errorf("report %q has no %q line", out.String(), line)
				}
				if f.Status != OK && f.Fix != "" && !strings.Contains(out.String(), "fix: "+f.Fix) {
					t.Errorf("report %q does not say what to do: %q", out.String(), f.Fix)
				}
			}
		})
	}
}

func TestRunLineFormat(t *testing.T) {
	var out bytes.Buffer
	Run(&out, fakeHost(t), []Check{fixed(
		Finding{Status: OK, Name: "root", Detail: "running as root", Fix: "never shown"},
		Finding{Status: Fail, Name: "pivot_root", Detail: "EINVAL", Fix: "use the VM"},
	)}, Options{})
	want := "ok    root               running as root\n" +
		"fail  pivot_root         EINVAL\n" +
		"      fix: use the VM\n"
	if !strings.HasPrefix(out.String(), want) {
		t.Errorf("report =\n%s\nwant it to start with\n%s", out.String(), want)
	}
}

// A path with a newline or an escape in a finding (a state dir's name)
// stays on its line, as the narration prints it.
func TestRunKeepsAFindingOnItsLine(t *testing.T) {
	var out bytes.Buffer
	Run(&out, fakeHost(t), []Check{fixed(Finding{Status: Fail, Name: "state dir", Detail: "/tmp/a\nb cannot be written in", Fix: "give \x1b[31m another"})}, Options{})
	if !strings.Contains(out.String(), `/tmp/a\nb cannot be written in`) || strings.Contains(out.String(), "\x1b[31m") {
		t.Errorf("report = %q, want the newline and the escape shown, not printed", out.String())
	}
}

func TestRunExplain(t *testing.T) {
	var out bytes.Buffer
	Run(&out, fakeHost(t), []Check{fixed(Finding{Status: OK, Name: "x"})}, Options{Explain: true})
	if !strings.HasPrefix(out.String(), "# because\n") {
		t.Errorf("--explain report = %q, want the check's reason first", out.String())
	}
	out.Reset()
	Run(&out, fakeHost(t), []Check{fixed(Finding{Status: OK, Name: "x"})}, Options{})
	if strings.Contains(out.String(), "because") {
		t.Errorf("report without --explain = %q, has the reason", out.String())
	}
}

func TestRunColor(t *testing.T) {
	var out bytes.Buffer
	Run(&out, fakeHost(t), []Check{fixed(Finding{Status: Fail, Name: "x", Fix: "y"})}, Options{Color: true})
	if !strings.Contains(out.String(), "\x1b[") {
		t.Errorf("coloured report %q has no colour", out.String())
	}
	out.Reset()
	Run(&out, fakeHost(t), []Check{fixed(Finding{Status: Fail, Name: "x", Fix: "y"})}, Options{})
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("plain report %q has colour", out.String())
	}
}

func TestRunInterrupted(t *testing.T) {
	// A signal arriving during a check lets that check finish (and clean
	// up after itself), then stops the run before the next.
	interrupt := make(chan os.Signal, 1)
	var ran []string
	checks := []Check{
		{Name: "first", Run: func(*Host) []Finding {
			ran = append(ran, "first")
			interrupt <- unix.SIGINT
			return []Finding{{Status: OK, Name: "first"}}
		}},
		{Name: "second", Run: func(*Host) []Finding { ran = append(ran, "second"); return nil }},
	}
	var out bytes.Buffer
	passed, err := Run(&out, fakeHost(t), checks, Options{Interrupt: interrupt})
	var stopped *Interrupted
	if passed || !errors.As(err, &stopped) || stopped.Signal != unix.SIGINT || !strings.HasPrefix(err.Error(), "interrupted by SIGINT;") {
		t.Errorf("Run = %v, %v; want false, interrupted by SIGINT (the signal by its name)", passed, err)
	}
	if strings.Join(ran, ",") != "first" {
		t.Errorf("ran %q, want only the first check", ran)
	}
}

func TestChecksAreAllThere(t *testing.T) {
	// Every finding the real Checks make on a healthy fake host is ok: the
	// list is complete and wired to the host's probes, not the real ones.
	h := fakeHost(t)
	var out bytes.Buffer
	passed, err := Run(&out, h, Checks(), Options{})
	if !passed || err != nil {
		t.Fatalf("Run(Checks()) on a healthy host = %v, %v:\n%s", passed, err, out.String())
	}
	for _, name := range []string{"root", "kernel", "architecture", "namespace mount", "namespace uts", "namespace ipc",
		"namespace net", "namespace pid", "namespace user", "namespace cgroup", "user namespaces", "cgroups",
		"cgroup memory", "cgroup cpu", "cgroup pids", "overlayfs", "pivot_root", "strace", "busybox", "state dir"} {
		if !strings.Contains(out.String(), "ok    "+name+" ") {
			t.Errorf("report has no ok line for %q:\n%s", name, out.String())
		}
	}
}
