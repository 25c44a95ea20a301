// Package doctor says what this machine supports of what workshop's steps
// need, and what to do about what it lacks.
//
// Synopsis:
//
//	sudo workshop doctor
//
// Description:
//
// Each check prints one line, "ok", "warn", "fail" or "skip", and, where the
// answer is not ok, a second line that says what to do. Where a feature can
// be tried, the check tries it (a namespace is created in a throwaway child,
// an overlay and pivot_root are done in a throwaway mount namespace, a cgroup
// is made and removed again) rather than guessing from version numbers.
//
// Exit status: 0 when everything the steps need is there (a warning does not
// fail), 1 when at least one check failed, 125 when doctor itself could not
// run (a bad flag).
//
// The steps' errors that come from a missing kernel feature send the student
// here ("see 'workshop doctor'"), so the student knows where to look.
package doctor

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/fatih/color"
	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/sys"
)

// Status is a check's verdict.
type Status int

const (
	OK   Status = iota // the feature is there and works
	Warn               // something is off, but the steps still run
	Fail               // a step needs this and will not run without it
	Skip               // not tried: it needs something an earlier check found missing
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	case Fail:
		return "fail"
	case Skip:
		return "skip"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Finding is one line of the report.
type Finding struct {
	Status Status
	Name   string // what was checked: "root", "namespace net", "cgroup memory"
	Detail string // what was found
	Fix    string // what to do about it; empty when OK
}

// Check is a group of findings that belong together, with the reason the
// steps care, shown under --explain.
type Check struct {
	Name string
	Why  string
	Run  func(h *Host) []Finding
}

// Options are how the report is printed.
type Options struct {
	Explain bool // print each check's Why before its lines
	Color   bool
	// Interrupt delivers a stop signal (exit.StopSignals). The check under
	// way finishes, so that its throwaway cgroup or directory is removed, and Run stops.
	Interrupt <-chan os.Signal
}

// Interrupted is Run's error when a signal stopped it.
type Interrupted struct{ Signal os.Signal }

func (e *Interrupted) Error() string {
	name := fmt.Sprint(e.Signal) // Go's "interrupt": the kernel's name is the one a student knows
	if sig, ok := e.Signal.(unix.Signal); ok {
		name = sys.SignalName(sig)
	}
	return fmt.Sprintf("interrupted by %s; the checks made nothing that is left behind", name)
}

// Run runs the checks in order, prints a line for each finding and a
// closing sentence, and reports whether every check passed (warnings pass).
// Its error is an *Interrupted when a signal stopped it.
func Run(w io.Writer, h *Host, checks []Check, opts Options) (passed bool, err error) {
	paint := newPainter(opts.Color)
	fails, warns := 0, 0
	for _, c := range checks {
		select {
		case sig := <-opts.Interrupt:
			return false, &Interrupted{Signal: sig}
		default:
		}
		if opts.Explain && c.Why != "" {
			fmt.Fprintf(w, "%s\n", paint.why.Sprint("# "+c.Why))
		}
		for _, f := range c.Run(h) {
			printFinding(w, paint, f)
			switch f.Status {
			case Fail:
				fails++
			case Warn:
				warns++
			}
		}
	}
	switch {
	case fails > 0:
		fmt.Fprint(w, hint.Rewrite(fmt.Sprintf("\n%d %s: workshop's steps need what the fail %s above. Fix %s and run 'sudo workshop doctor' again.\n",
			fails, plural(fails, "check failed", "checks failed"), plural(fails, "line says", "lines say"), plural(fails, "it", "them"))))
	case warns > 0:
		fmt.Fprintf(w, "\nEverything the steps need is here (%d %s: see above).\n", warns, plural(warns, "warning", "warnings"))
	default:
		fmt.Fprintf(w, "\nEverything the steps need is here.\n")
	}
	return fails == 0, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// printFinding prints "ok    name  detail" and, below a finding that is not
// ok, "      fix: what to do".
func printFinding(w io.Writer, p painter, f Finding) {
	word := fmt.Sprintf("%-4s", f.Status)
	// One line each, whatever a path in it holds (a newline, an escape).
	fmt.Fprintf(w, "%s  %-18s %s\n", p.status(f.Status).Sprint(word), f.Name, sys.OneLine(f.Detail))
	if f.Status != OK && f.Fix != "" {
		lines := strings.Split(f.Fix, "\n")
		for i := range lines {
			lines[i] = sys.OneLine(hint.Rewrite(lines[i]))
		}
		fmt.Fprintf(w, "      %s %s\n", p.fix.Sprint("fix:"), strings.Join(lines, "\n           "))
	}
}

type painter struct {
	ok, warn, fail, skip, fix, why *color.Color
}

func newPainter(on bool) painter {
	p := painter{
		ok:   color.New(color.FgGreen),
		warn: color.New(color.FgYellow, color.Bold),
		fail: color.New(color.FgRed, color.Bold),
		skip: color.New(color.Faint),
		fix:  color.New(color.Bold),
		why:  color.New(color.Faint),
	}
	for _, c := range []*color.Color{p.ok, p.warn, p.fail, p.skip, p.fix, p.why} {
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return p
}

func (p painter) status(s Status) *color.Color {
	switch s {
	case OK:
		return p.ok
	case Warn:
		return p.warn
	case Fail:
		return p.fail
	}
	return p.skip
}
