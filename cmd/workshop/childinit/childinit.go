// Package childinit runs a re-executed child (`workshop __init NAME`) from
// an init function, before package main's own initialisation: main's init
// functions build every cobra command of the command line, which the
// container's init, started on every run, never uses (a fifth of a
// millisecond of each run's start). runc starts its `runc init` the same
// way. It lives under cmd/ because it imports steps (internal/ may not).
// It imports every package that registers an init with reexec, so
// that all of them are registered by then; a package that registers one
// must be added here (reexec.Main says "unknown init" otherwise).
package childinit

import (
	"github.com/workshop-dev/workshop/internal/reexec"

	_ "github.com/workshop-dev/workshop/internal/doctor"
	_ "github.com/workshop-dev/workshop/steps/01-chroot"
	_ "github.com/workshop-dev/workshop/steps/03-namespaces"
)

func init() { reexec.Main() }
