package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/ids"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/units"
	namespaces "github.com/workshop-dev/workshop/steps/03-namespaces"
	"golang.org/x/sys/unix"
)

// MinPids is the smallest --pids a container can start with: its init is
// workshop re-executed, a Go program, until it runs the command, and each of
// its threads is a task pids.max counts (measured: up to 7, with one P and
// the init's locked thread); the rest is the command's.
const MinPids = 10

// MinMemory is the smallest --memory a container can start with, docker's
// floor too. Until it runs the command, the container's first process is
// workshop's init, a Go program whose pages count against the limit; and on
// v1 a thread of workshop stands in the group while it clones the child
// (BornIn), so the kernel charges that clone to the group. Below about
// 1.5M the init is OOM-killed before the command runs, and far below (4K)
// the clone itself can spin in the kernel's reclaim, with workshop's thread
// in it, where no signal but SIGKILL ends it.
const MinMemory = 6 << 20

// StopGrace is how long a container may take to end after workshop passed
// it a stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT, a sent SIGABRT…)
// before its whole cgroup is killed (docker stop waits 10s; a class has
// less time). A PID 1 with no handler ignores them all.
const StopGrace = 3 * time.Second

// Contained is step 4's sequence, which step 6 reuses: a step 3 container
// whose first process is put in its own cgroup before its command runs.
type Contained struct {
	Container namespaces.Config
	Limits    Limits
	// Timeout, when not zero, kills the whole cgroup after that long.
	Timeout time.Duration
	// Record, when not nil, gets the container's pid and cgroup paths as
	// soon as they exist, so `workshop ps` and `workshop clean` see them.
	Record *state.Run

	// Lean makes the group only where the run uses it (NewLean): for a
	// caller that prints no statistics table.
	Lean bool

	// Ended, when not nil, is called once the container has ended and no
	// process is left in its group (not at all if one stays), before the
	// group is read and removed:
	// step 6 unmounts the container's root there, and has its writable
	// layer removed meanwhile.
	Ended func()

	// Interrupted, when not nil, is the caller's channel registered for
	// the stop signals (step 4's, step 6's), read instead of one of Run's
	// own, so that no signal falls between the caller's and Run's.
	Interrupted chan os.Signal
}

// Outcome is how a contained run ended.
type Outcome struct {
	Status int // the command's status, 128+n for signal n
	// Stats is what the cgroup saw, read just before it was removed.
	Stats    Stats
	StatsErr error
	// KilledBecause says why workshop killed the cgroup, or is "".
	KilledBecause string
	// TimedOut is true when the kill was the timeout's (not a signal's).
	TimedOut bool
	// Signaled is true when a signal ended the command (Status is then
	// 128+n); a command that exits with 130 by itself is not Signaled.
	Signaled bool
	// Readerless is true when workshop ended the container because the
	// reader of its output had gone (Status 141: see
	// namespaces.Container.EndedReaderless).
	Readerless bool
	// SentBy names who sent the signal that ended the command, when
	// workshop knows ("'workshop kill'"), or is "".
	SentBy string
	// InSetup is true when the signal ended the container while it was
	// set up, before its command's execve (a SIGKILL, which `workshop
	// kill` alone may send then): the command never ran.
	InSetup bool
	// RemoveErr is the failure to remove the cgroup, if any; it is set
	// also when Run returns an error after the group was made.
	RemoveErr error
	// ProcessesLeft is true when processes were still in the group after
	// the container ended and its kill (Ended was not called): one stuck
	// in the kernel, say. The group cannot be removed then.
	ProcessesLeft bool
	// OOMElsewhere is true when the command died of SIGKILL, the group
	// counted OOM kills, and the kernel's log names their victims in the
	// group, none of them the command's first process: someone else sent
	// the SIGKILL.
	OOMElsewhere bool
	// Init is true when the first process is workshop's init (--init),
	// which exits 128+n when its command was killed by signal n: its 137
	// is no exit of the command's own, but a SIGKILL.
	Init bool
	// OOMFirst is true when workshop killed the group (KilledBecause) but
	// the kernel's log names the command's first process among the OOM
	// killer's victims: the memory limit ended it, before workshop's kill
	// reached it (the group emptied only after that kill).
	OOMFirst bool
}

// oomKilled is the sentence of a container its memory limit killed.
func (o Outcome) oomKilled(l Limits) error {
	what := "memory.oom_control says oom_kill"
	if o.Stats.Mode == V2 {
		what = "memory.events says oom_kill"
	}
	if l.Memory <= 0 {
		// No limit of its own: the group counts any OOM killer's kills
		// (v2's memory.events does), the machine's own too.
		return exit.Errorf(exit.OOMKilled, "the container was killed by the kernel's OOM killer, with no --memory limit of its own: "+
			"the machine ran out of memory (%s %d); exit status 137 is 128 + SIGKILL", what, o.Stats.OOMKills)
	}
	return exit.Errorf(exit.OOMKilled, "the container was killed by its memory limit (--memory %s): "+
		"the kernel's OOM killer ended it when it could reclaim no more (%s %d); exit status 137 is 128 + SIGKILL",
		units.FormatFlag(l.Memory), what, o.Stats.OOMKills)
}

// Check refuses limits a container cannot start under (an error with
// status 125): the command line checks them before anything is made.
func (l Limits) Check() error {
	if l.Pids > 0 && l.Pids < MinPids {
		return exit.Errorf(exit.ToolFailed, "--pids %d is too few: until it runs your command, the container's first process is workshop's init, "+
			"a Go program whose threads count against pids.max (up to 7 of them); give at least %d", l.Pids, MinPids)
	}
	if l.Memory > 0 && l.Memory < MinMemory {
		size := units.FormatSize(l.Memory)
		if back, err := units.ParseSize(size); err != nil || back != l.Memory {
			size = fmt.Sprintf("%d bytes", l.Memory) // not a round size: rounded, it would read as the floor itself
		}
		// "--memory 80": a number alone is bytes, as the kernel reads it;
		// 80M, a size that would do, is likely what was meant.
		meant := ""
		if l.Memory < units.KiB {
			size = units.Count(int(l.Memory), "byte", "bytes") + " (a number alone, or with B, is bytes)"
			if l.Memory*units.MiB >= MinMemory {
				meant = fmt.Sprintf(": did you mean %dM?", l.Memory)
			}
		}
		return exit.Errorf(exit.ToolFailed, "--memory %s is too little: until it runs your command, the container's first process is workshop's init, "+
			"a Go program whose memory counts against the limit; give at least %s (docker's floor too)%s", size, units.FormatSize(MinMemory), meant)
	}
	return nil
}

// noteBeyondTheMachine says so when the memory limit is more than the
// machine has: the kernel takes any size, and the limit then never acts
// (the machine runs out first, and its OOM killer, not the cgroup's,
// chooses a victim). What the group may use is the machine's memory, and
// its swap only where v1's memory+swap limit is the limit too (v2's group
// gets no swap: memory.swap.max 0; without swap accounting the limit is of
// memory alone).
func (l Limits) noteBeyondTheMachine(n *sys.Narrator, cg *Cgroup) {
	var si unix.Sysinfo_t
	if l.Memory <= 0 || unix.Sysinfo(&si) != nil {
		return
	}
	ram := uint64(si.Totalram) * uint64(si.Unit)
	swap := uint64(si.Totalswap) * uint64(si.Unit)
	most, of := ram, fmt.Sprintf("%s of memory", units.FormatSize(int64(ram)))
	if dir, ok := cg.Dir("memory"); ok && cg.mode != V2 && exists(filepath.Join(dir, v1MemswLimit)) {
		most += swap
		of += fmt.Sprintf(" and %s of swap", units.FormatSize(int64(swap)))
	}
	if uint64(l.Memory) > most {
		n.Note("--memory %s is more than this machine has (%s): the limit never acts; the machine runs out first, and then its own OOM killer, not the cgroup's, picks a process to kill",
			units.FormatFlag(l.Memory), of)
	}
}

// Run starts the container, puts it in a new cgroup with the limits, lets
// it run, and removes the cgroup however it ends: success, OOM kill,
// --timeout, a stop signal to workshop, the command killed by a signal.
//
// The stop signals (exit.StopSignals) are caught from before the group is
// made until after it is removed: while any channel is registered with
// signal.Notify, Go's default action (workshop dies at once, leaving the
// group and the record) is off. One that comes before the command is released stops the run (an
// error with status 128+n); one that comes while it runs is passed on to it
// (namespaces.Container.Wait), and the group is killed if the container
// has not ended StopGrace later; one that comes during the removal waits
// until the removal is done, and is then dropped: the container has ended.
func (r *Contained) Run(n *sys.Narrator) (Outcome, error) {
	if err := r.Limits.Check(); err != nil {
		return Outcome{}, err
	}
	sigs := r.Interrupted
	if sigs == nil {
		ch := make(chan os.Signal, 4)
		exit.Notify(ch, exit.StopSignals...)
		defer exit.Stop(ch)
		sigs = ch
	}
	cfg := r.Container
	cfg.StopGrace = StopGrace
	if cfg.ID == "" {
		cfg.ID = ids.New()
	}
	mode, err := Detect()
	if err != nil {
		return Outcome{}, err
	}
	// The group is made first, and the child is born in it: on cgroup v2 by
	// clone3 with CLONE_INTO_CGROUP, on v1 by cloning from a thread that
	// stands in the group (BornIn). Where neither can be done, the child is
	// moved in after the clone by a write to cgroup.procs. Either way Start
	// leaves the child waiting on its pipe: nothing of the command runs
	// before Release, so the limits hold from its first instruction.
	cg, err := r.newCgroup(n, cfg.ID)
	if err != nil {
		return Outcome{}, err
	}
	r.Limits.noteBeyondTheMachine(n, cg)
	if cfg.Sys {
		cfg.CgroupViews = cg.views()
	}
	switch {
	case mode == V2:
		cfg.CgroupDir, _ = cg.Dir("memory")
	case cg.CanBearIn():
		cfg.BornIn = cg.BornIn
	}
	c, err := namespaces.Start(n, cfg)
	if err != nil {
		return Outcome{RemoveErr: cg.Remove()}, err
	}
	started := monotonicNow() // the kernel log's clock: see oomKilledInLog
	if cfg.CgroupDir == "" && cfg.BornIn == nil {
		if err := cg.Add(c.Pid()); err != nil {
			c.Abort()
			return Outcome{RemoveErr: cg.Remove()}, err
		}
	}
	// Recorded before it is said: a test (or a student) that reads the
	// note may look the pid up at once.
	r.recordPid(n, c.Pid())
	switch {
	case cfg.CgroupDir != "":
		n.Note("pid %d was born in %s (CLONE_INTO_CGROUP): the limits hold from its first instruction, and no cgroup.procs write was needed", c.Pid(), strings.Join(cg.Paths(), ", "))
	case cfg.BornIn != nil:
		n.Note("pid %d was born in %s, where the thread that cloned it stood: the limits hold from its first instruction, and no cgroup.procs write was needed", c.Pid(), strings.Join(cg.Paths(), ", "))
	default:
		n.Note("pid %d is in %s before its command runs: the limits hold from its first instruction", c.Pid(), strings.Join(cg.Paths(), ", "))
	}
	select {
	case s := <-sigs:
		// The command has not run: end the child before it does.
		sig := s.(unix.Signal)
		n.Note("workshop got %s before the container's command ran: stopping it there", sys.SignalName(sig))
		c.Abort()
		return Outcome{RemoveErr: cg.Remove()}, exit.Errorf(exit.SignalBase+int(sig),
			"interrupted by %s before the container's command ran; it never ran", sys.SignalName(sig))
	default:
	}
	if err := c.Release(); err != nil {
		c.Abort()
		return Outcome{RemoveErr: cg.Remove()}, killedInSetupBy(r.Record, err)
	}

	var end ending
	stop := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		r.watch(n, cg, c.Pid(), sigs, &end, stop)
	}()
	status, werr := c.Wait()
	close(stop)
	watcher.Wait()

	// Without a PID namespace the first process's children outlive it.
	pids, err := cg.Procs()
	empty := err == nil && len(pids) == 0
	if len(pids) > 0 {
		n.Note("%s outlived the container's first process: killing the whole cgroup", units.Count(len(pids), "process", "processes"))
		cg.Kill()
		// Kill sends the signals; the processes end a moment later.
		empty = cg.drained(drainWait)
	}
	// Ended may take away what the container's processes use (step 6
	// unmounts its root and removes its writable layer): only once there
	// are none. Otherwise the caller's own teardown, after Remove's wait,
	// does it.
	if r.Ended != nil && empty {
		r.Ended()
	}
	out := Outcome{Status: status, Signaled: c.Signaled(), Init: r.Container.Init, ProcessesLeft: !empty, Readerless: c.EndedReaderless()}
	out.InSetup = out.Signaled && !c.SetUp()
	if r.Record != nil && out.Signaled {
		if r.Record.KillSent(status - exit.SignalBase) {
			// Who sent it, not a command to type: no quotes (hint.Rewrite
			// gives a quoted one the --state-dir).
			out.SentBy = "a workshop kill"
		}
	}
	out.KilledBecause, out.TimedOut = end.get()
	// A lean run prints no table: its verdict reads the counters only
	// for a status of 137 (an OOM kill, or workshop's own SIGKILL), and
	// for a death by a signal ("the cgroup counted no OOM kill"). A run
	// that exited by itself, the usual end, spares the reads.
	if !r.Lean || status == exit.OOMKilled || out.Signaled {
		out.Stats, out.StatsErr = cg.Stats()
	}
	if out.Status == exit.OOMKilled && out.Signaled && out.SentBy == "" && out.Stats.OOMKilled() {
		victims, known := oomVictims(n, cfg.ID, started)
		switch {
		case out.KilledBecause != "":
			// workshop's kill and the OOM killer's look the same: the
			// log says whether the first process was the OOM killer's.
			out.OOMFirst = known && slices.Contains(victims, c.Pid())
		// Said only when the log names every victim the group counted,
		// and this one is not among them: a record the log lost (or one
		// cut in two by another CPU's line) proves nothing.
		case known && len(victims) > 0 && int64(len(victims)) >= int64(out.Stats.OOMKills) && !slices.Contains(victims, c.Pid()):
			out.OOMElsewhere = true
		}
	}
	out.RemoveErr = cg.Remove()
	return out, werr
}

// killedInSetupBy is err, the child's death before its release, told as
// `workshop kill`'s where the run's record holds its mark for the signal
// that killed it (128+n): the kill landed before the container was let go.
func killedInSetupBy(rec *state.Run, err error) error {
	if rec == nil {
		return err
	}
	if sig := exit.Status(err) - exit.SignalBase; rec.KillSent(sig) {
		return exit.Errorf(exit.SignalBase+sig, "%s", killedInSetup(unix.Signal(sig), "a workshop kill"))
	}
	return err
}

// killedInSetup says that sig, which by sent, killed the container before
// its command ran.
func killedInSetup(sig unix.Signal, by string) string {
	return fmt.Sprintf("the container was killed by signal %d (%s), which %s sent, while it was set up: its command never ran", int(sig), sys.SignalName(sig), by)
}

// newCgroup makes the container's group with the limits and notes its
// directories in the record, saved by recordPid. If workshop is killed in
// between, `workshop clean` finds the group by the container's id.
func (r *Contained) newCgroup(n *sys.Narrator, id string) (*Cgroup, error) {
	newGroup := New
	if r.Lean {
		newGroup = NewLean
	}
	cg, err := newGroup(n, id, r.Limits)
	if err != nil {
		return nil, err
	}
	if r.Record != nil {
		r.Record.Cgroups = cg.Paths()
	}
	return cg, nil
}

// recordPid saves the record once the child is in its group, with its pid
// and the group: one rewrite (a write and a rename over the old record)
// instead of one for each, on the way to the child's release.
func (r *Contained) recordPid(n *sys.Narrator, pid int) {
	if r.Record == nil {
		return
	}
	r.Record.Pid = pid
	if err := r.Record.Save(); err != nil {
		n.Note("could not record pid %d in %s: %v (so ps will not list this container)", pid, r.Record.Dir(), err)
	}
}

// ending is why the container's cgroup was killed, if workshop killed it.
type ending struct {
	mu       sync.Mutex
	why      string // "" while nothing was killed
	timedOut bool   // the timeout's kill, not a signal's
}

func (e *ending) set(why string, timedOut bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.why != "" {
		return false
	}
	e.why, e.timedOut = why, timedOut
	return true
}

func (e *ending) get() (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.why, e.timedOut
}

// notEndedWhy says why a container whose first process is pid has not
// ended StopGrace after it was passed the signal got: it ignored it, or,
// stopped (Ctrl-Z, SIGSTOP), it has not taken it yet: a stopped process
// takes no signal but SIGKILL and SIGCONT.
func notEndedWhy(pid int, got string) string {
	if p, ok := state.Stat(pid); ok && p.State == 'T' {
		return fmt.Sprintf("the container, stopped (Ctrl-Z, SIGSTOP), has not taken %s in %s: a stopped process takes no signal but SIGKILL and SIGCONT", got, StopGrace)
	}
	return fmt.Sprintf("the container ignored %s for %s", got, StopGrace)
}

// sameSending is how close a second signal of the same kind must follow
// the first to be taken for the same sending, not a student's second
// Ctrl-C or kill (which come a tenth of a second apart at the quickest).
const sameSending = 50 * time.Millisecond

// watch kills the whole cgroup when the timeout expires, or when the
// container has not ended StopGrace after workshop passed it SIGINT or
// SIGTERM (namespaces.Wait passes them on; a PID 1 without a handler
// ignores them). A second signal kills at once, but for a second SIGHUP. sigs is registered before
// the container is released, so a signal that comes just after is not lost.
func (r *Contained) watch(n *sys.Narrator, cg *Cgroup, pid int, sigs <-chan os.Signal, end *ending, stop <-chan struct{}) {
	var expire <-chan time.Time
	if r.Timeout > 0 {
		t := time.NewTimer(r.Timeout)
		defer t.Stop()
		expire = t.C
	}
	var grace <-chan time.Time
	var got string
	var gotAt time.Time
	kill := func(why string, timedOut bool) {
		if end.set(why, timedOut) {
			// Made first, narrated after: a terminal that takes no lines
			// (Ctrl-S) would hold the kill back behind its narration.
			n.Deferred(func(n *sys.Narrator) {
				n.Note("%s: killing every process in the container's cgroup", why)
				if err := cg.narratedBy(n).Kill(); err != nil {
					n.Note("killing the cgroup failed: %v", err)
				}
			})
		}
	}
	for {
		select {
		case <-stop:
			return
		case <-expire:
			kill(fmt.Sprintf("--timeout %s expired", r.Timeout), true)
		case s := <-sigs:
			name := sys.SignalName(s.(unix.Signal))
			switch {
			case got == name && s == unix.SIGHUP:
				// A terminal's hang-up may come twice, from its shell
				// and from workshop's own watch of it (namespaces'
				// watchTerminal): the grace goes on.
				continue
			case got == name && time.Since(gotAt) < sameSending:
				// One sending that arrives twice: timeout(1) signals
				// workshop, then workshop's whole process group.
				continue
			case got == name:
				kill(fmt.Sprintf("%s came twice", name), false)
				continue
			case got != "":
				kill(fmt.Sprintf("%s came after %s", name, got), false)
				continue
			}
			// The container got it (namespaces' forwarding, whose note
			// tells of this grace: Config.StopGrace).
			got, gotAt = name, time.Now()
			t := time.NewTimer(StopGrace)
			defer t.Stop()
			grace = t.C
		case <-grace:
			kill(notEndedWhy(pid, got), false)
		}
	}
}

// Verdict turns an outcome into the exit status and sentence DESIGN.md
// promises: 137 and "the memory limit" for an OOM kill, the reason when
// workshop killed the cgroup, and otherwise the command's own status. A
// sentence comes only with a status that is not 0: a container that ended
// by itself with 0 just as workshop killed its group (the timeout expiring
// at its last instant) succeeded, and a note says so. A group that could
// not be removed is a note, and turns a status of 0 into 125.
func (o Outcome) Verdict(n *sys.Narrator, l Limits) error {
	if o.RemoveErr != nil {
		n.Note("could not remove the container's cgroup: %v ('workshop clean' will retry)", o.RemoveErr)
	}
	switch {
	// workshop's own kill (--timeout, a stop signal the container ignored)
	// comes first: an OOM kill earlier in the run, of another process of
	// the group, does not make the limit the reason the container ended.
	// Unless the kernel's log names the first process among the OOM
	// killer's victims: the limit ended it first.
	case o.OOMFirst:
		n.Note("%s too, and workshop killed what was left of the cgroup; but the kernel's log (/dev/kmsg) names the first process among the OOM killer's victims: the limit ended it first", o.KilledBecause)
		return o.oomKilled(l)
	// The first process exited by itself (a shell's own 130 after a
	// SIGINT) just as workshop's kill came: its status is its own.
	case o.KilledBecause != "" && o.Status != 0 && !o.Signaled && !o.Init:
		n.Note("%s just as the container ended: its first process had exited by itself, with status %d", o.KilledBecause, o.Status)
		return exit.Code(o.Status, nil)
	case o.KilledBecause != "" && o.Status != 0:
		return exit.Errorf(o.Status, "%s: workshop killed every process in the container's cgroup (exit status %d)", o.KilledBecause, o.Status)
	// A signal someone sent with `workshop kill` comes before the OOM
	// kill count for the same reason.
	case o.SentBy != "" && o.InSetup:
		n.Note("%s", killedInSetup(unix.Signal(o.Status-exit.SignalBase), o.SentBy))
	case o.SentBy != "":
		sig := unix.Signal(o.Status - exit.SignalBase)
		n.Note("the command was killed by signal %d (%s), which %s sent", int(sig), sys.SignalName(sig), o.SentBy)
	case o.Status == exit.OOMKilled && !o.Signaled && !o.Init && o.Stats.OOMKilled():
		// 137 as an exit status, not as a death by SIGKILL: a shell that
		// ran a child the OOM killer ended passes on the 137 it saw.
		killer, limit := "the limit's", "--memory "+units.FormatFlag(l.Memory)
		if l.Memory <= 0 {
			killer, limit = "the kernel's", "no --memory limit: the machine ran out of memory"
		}
		n.Note("the command exited with status 137 by itself, not killed: %s OOM killer ended %d of the container's other processes (%s), "+
			"and a shell gives a child killed by SIGKILL as 137", killer, o.Stats.OOMKills, limit)
	case o.Status == exit.OOMKilled && o.OOMElsewhere:
		n.Note("the command was killed by signal 9 (SIGKILL), not by its memory limit: the limit's OOM killer did end %d of the container's processes, "+
			"but the kernel's log (/dev/kmsg) names other ones, not its first process; the SIGKILL came from outside (kill -9?)", o.Stats.OOMKills)
	case o.Status == exit.OOMKilled && o.Stats.OOMKilled():
		return o.oomKilled(l)
	case o.KilledBecause != "":
		n.Note("%s just as the container ended: its first process had exited by itself, with status 0", o.KilledBecause)
	case o.Readerless:
		n.Note("the container ended as workshop ended it, once the reader of its output had gone: exit status %d, as a shell reports a writer SIGPIPE ended", o.Status)
	case o.Signaled && o.InSetup:
		sig := unix.Signal(o.Status - exit.SignalBase)
		n.Note("the container was killed by signal %d (%s) while it was set up, not by a limit: its command never ran", int(sig), sys.SignalName(sig))
	case o.Signaled:
		sig := unix.Signal(o.Status - exit.SignalBase)
		n.Note("the command was killed by signal %d (%s), not by a limit: the cgroup counted no OOM kill", int(sig), sys.SignalName(sig))
	}
	switch {
	case o.Status != 0:
		return exit.Code(o.Status, nil)
	case o.RemoveErr != nil:
		return exit.Code(exit.ToolFailed, nil)
	}
	return nil
}

// views are the group's directories as its container is shown them under
// its /sys/fs/cgroup (namespaces.Config.Sys): on v2 the one directory is
// the whole of it; on v1 each is there under its hierarchy's name
// (/sys/fs/cgroup/memory/workshop/ID as /sys/fs/cgroup/memory).
func (c *Cgroup) views() []namespaces.CgroupView {
	if c.mode == V2 {
		return []namespaces.CgroupView{{Host: c.dirs[v2Key]}}
	}
	var vs []namespaces.CgroupView
	for _, d := range c.Paths() {
		hierarchy := filepath.Dir(filepath.Dir(d))
		vs = append(vs, namespaces.CgroupView{Host: d, In: filepath.Base(hierarchy)})
	}
	return vs
}
