// Package procmask names the parts of /proc a container must not see:
// step 3 masks them, and the lesson tests, which run the lessons' commands
// on the host, know them from here (a test helper may not import a step).
package procmask

// Paths are the parts of /proc, relative to it, that runc and Docker hide
// (their "masked paths"): files about the whole machine, not this
// container, that a PID namespace does not filter. /proc/keys lists the
// keys the reader may view, root's on the host among them under the default
// map; /proc/timer_list and /proc/sched_debug describe the host's timers and
// tasks; /proc/kcore is the host's memory; /proc/acpi, /proc/asound and
// /proc/scsi its hardware. Which of them exist depends on the kernel's
// configuration.
var Paths = []string{"acpi", "asound", "kcore", "keys", "latency_stats", "timer_list", "timer_stats", "sched_debug", "scsi"}

// SysPaths are the parts of /sys, relative to it, that runc and Docker hide
// under a read-only /sys: /sys/firmware holds the host's ACPI tables and
// DMI data (serial numbers among them), and /sys/devices/virtual/powercap
// the CPU's energy counters, read fast enough to leak what other programs
// compute (the Platypus attack). The second exists on some machines only.
var SysPaths = []string{"firmware", "devices/virtual/powercap"}
