package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/ids"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	namespaces "github.com/workshop-dev/workshop/steps/03-namespaces"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
	"golang.org/x/sys/unix"
)

// Options are what `workshop full run` was asked for.
type Options struct {
	StateDir string
	Image    string // NAME[:TAG] or id; "" is the built-in base image
	Name     string // "" is a generated name
	// Args is the command; nil is the image's shell (ImageShell), with
	// -i when Interactive.
	Args        []string
	Interactive bool
	Hostname    string
	// Namespaces as --ns names them; nil is all seven. The mount namespace
	// is required: pivot_root needs it.
	Namespaces []string
	Limits     cgroups.Limits
	Timeout    time.Duration
	Init       bool
	Keep       bool // keep the writable layer (and the record, for diff) after the run

	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Result is how a run ended.
type Result struct {
	cgroups.Outcome
	ID, Name string
	// RecordErr is a failure to update the container's record as the run
	// ended (a full disk): everything else was undone, but `workshop ps -a`
	// will show the record as a killed workshop's. Said whatever --quiet.
	RecordErr error
}

// Run runs one container, from its image to its end, and removes everything
// it made however it ends: its overlay mount, its cgroup, its writable layer
// (unless Keep) and its record.
func Run(n *sys.Narrator, o Options) (res Result, err error) {
	// A Ctrl-C must never kill workshop half-way through making or
	// removing things: the stop signals (exit.StopSignals: SIGINT,
	// SIGTERM, SIGHUP, SIGQUIT, a sent SIGABRT…) stay caught here until
	// the last deferred removal is done. Before the container starts, one
	// is acted on below; once it runs, the container's own handlers (which
	// get their copy of every signal too) pass it on or kill the cgroup.
	interrupted := make(chan os.Signal, 4)
	exit.Notify(interrupted, exit.StopSignals...)
	defer exit.Stop(interrupted)

	if err := LayerFits(o.StateDir, !o.Keep); err != nil {
		return Result{}, exit.Errorf(exit.ToolFailed, "the container's root: %v", err)
	}
	store := imagetar.OpenStore(o.StateDir)
	store.Say = n
	ref := o.Image
	if ref == "" {
		ref = imagetar.BaseRef
	}
	img, releaseImage, err := findAndHold(n, store, ref, interrupted)
	if err != nil {
		return Result{}, err
	}
	// The name is checked and the record made under one lock: two runs
	// asking for the same --name at once must not both get it.
	unlock, err := lockNames(o.StateDir)
	if err != nil {
		releaseImage()
		return Result{}, exit.Errorf(exit.ToolFailed, "%v", err)
	}
	name := o.Name
	if name == "" {
		name = freeName(o.StateDir)
	} else if err := nameFree(o.StateDir, name); err != nil {
		unlock()
		releaseImage()
		return Result{}, err
	}

	if o.Args == nil {
		o.Args = ImageShell(img.Rootfs, o.Interactive)
		if !programIn(img.Rootfs, o.Args[0]) {
			// Said before anything is made: the shell's execve, at the
			// end of the set-up, would only say /bin/sh is not there.
			unlock()
			releaseImage()
			return Result{}, exit.Errorf(exit.NotFound, "image %s has neither /bin/bash nor /bin/sh, the shells a run without a command starts: give the command to run after --", refString(img))
		}
	}
	id := ids.New()
	// The record comes first, naming the layer's directories and mount
	// before they are made: if workshop is killed from here on, `workshop
	// clean` finds what it made (and skips what was not made yet).
	dir := filepath.Join(state.ContainersDir(o.StateDir), id)
	rec := &state.Run{ID: id, Name: name, Step: 6, Image: refString(img), Command: o.Args, Keep: o.Keep, Init: o.Init, Lower: img.Rootfs,
		Upper:  filepath.Join(dir, "upper"),
		Mounts: []string{filepath.Join(dir, "rootfs")},
		Dirs:   []string{filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "rootfs")},
	}
	// The mount points step 3 will make in the root if the image lacks
	// them land in the writable layer, and so does the old root's, until
	// the container's init removes it: noted in the record from its start,
	// so that a diff at any moment tells them from the command's changes.
	for _, d := range []string{"proc", "dev", "sys", namespaces.OldRootName} {
		if _, err := os.Lstat(filepath.Join(img.Rootfs, d)); err != nil {
			rec.RuntimeDirs = append(rec.RuntimeDirs, "/"+d)
		}
	}
	err = state.New(o.StateDir, rec)
	unlock()
	releaseImage() // the record names it now: clean and image rm leave it
	if err != nil {
		return Result{}, exit.Errorf(exit.ToolFailed, "%v", err)
	}
	res = Result{ID: id, Name: name}
	n.Note("container %s (%s) from image %s (%s), unpacked once in %s", id, name, rec.Image, img.ShortID(), img.Rootfs)
	if commandIsPID1OnTerminal(o) {
		// A student's Ctrl-C on `full run -- sleep 1000` did nothing, in
		// silence: step 3's lesson, met here without it.
		n.Note("your command will be PID 1 of its PID namespace and have this terminal: a Ctrl-C here goes to it, and a PID 1 ignores a signal it has no handler for (step 3's lesson; sleep has none). To stop such a command: 'workshop kill %s' from another terminal, or run it with --init", name)
	}
	layer, err := MountLayer(n, img.Rootfs, rec.Dir(), !o.Keep)
	if err != nil {
		(&teardown{n: n, rec: rec}).finish(false, false)
		return res, exit.Errorf(exit.ToolFailed, "the container's root: %v", err)
	}
	end := &teardown{n: n, rec: rec, layer: layer, keep: o.Keep}
	if layer.Copied {
		rec.Copied = true
		end.saved(rec.Save(), "diff and clean will take its root for an overlay's")
	}
	defer func() {
		end.finish(res.Outcome.RemoveErr != nil, res.Outcome.ProcessesLeft)
		res.RecordErr = end.recordErr
	}()

	select {
	case s := <-interrupted:
		return res, exit.Errorf(exit.SignalBase+int(s.(unix.Signal)), "interrupted by %s before the container started; nothing is left", sys.SignalName(s.(unix.Signal)))
	default:
	}

	run := cgroups.Contained{
		Container: namespaces.Config{
			Root:       layer.Merged,
			Args:       o.Args,
			Namespaces: o.Namespaces,
			Hostname:   o.Hostname,
			ID:         id,
			Init:       o.Init,
			PivotRoot:  true,
			Sys:        true,
			// A container's command, as Docker's: not every capability.
			DefaultCapabilities: true,
			Stdin:               o.Stdin,
			Stdout:              o.Stdout,
			Stderr:              o.Stderr,
		},
		Limits:  o.Limits,
		Timeout: o.Timeout,
		Record:  rec,
		// Step 6 prints no table of CPU time: no cpuacct group, and no
		// cpu group without --cpus.
		Lean: true,
		// The root is unmounted as soon as the container has ended, and the
		// writable layer removed while its cgroup is.
		Ended: end.release,
		// The same channel from here on: a signal that came after the
		// check above is Run's to act on, not lost between two channels.
		Interrupted: interrupted,
	}
	res.Outcome, err = run.Run(n)
	return res, err
}

// findAndHold finds the image and holds it (Store.Hold) until the caller's
// release. Between the two, a `clean --images` or an `image rm` may have
// removed it: it is looked for once more (the base image is made anew).
func findAndHold(n *sys.Narrator, store *imagetar.Store, ref string, interrupted <-chan os.Signal) (imagetar.Image, func(), error) {
	for attempt := 1; ; attempt++ {
		img, err := findImage(n, store, ref, interrupted)
		if err != nil {
			return img, nil, err
		}
		_, release, err := store.Hold(img.ID)
		if errors.Is(err, imagetar.ErrNotFound) && attempt == 1 {
			continue
		}
		return img, release, err
	}
}

// findImage is store.Find, stopped by a stop signal that comes on
// interrupted meanwhile: the first run on a machine makes the base image,
// seconds of work, and the store then removes what it half made.
func findImage(n *sys.Narrator, store *imagetar.Store, ref string, interrupted <-chan os.Signal) (imagetar.Image, error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done, watched := make(chan struct{}), make(chan struct{})
	var caught unix.Signal
	go func() {
		defer close(watched)
		select {
		case s := <-interrupted:
			caught = s.(unix.Signal)
			cancel(fmt.Errorf("interrupted by %s", sys.SignalName(caught)))
		case <-done:
		}
	}()
	img, err := store.Find(ctx, n, ref)
	close(done)
	<-watched // caught is set, or will never be
	// A sentence of the store's own (it was waiting for its lock) says
	// more than this one.
	var said *exit.Error
	if caught != 0 && !errors.As(err, &said) {
		return img, exit.Errorf(exit.SignalBase+int(caught), "interrupted by %s before the container started; nothing is left", sys.SignalName(caught))
	}
	return img, err
}

// teardown undoes what a run made, in reverse: the overlay mount, then the
// writable layer (unless keep), then the record. With keep, the record stays
// (its pid cleared) so that `workshop diff` still finds the layer. When the
// cgroup could not be removed, the record stays too, naming it, so that
// `workshop clean` can retry; and if processes were still in it when the
// container ended, the mount and the layer stay as well.
//
// release, called as soon as the container has ended (cgroups.Contained's
// Ended), unmounts the overlay and removes the layer's directories, each
// with a narrated rm -rf. Under --quiet nothing is printed, so the removal
// runs in the background instead, on the other CPU, while step 4 reads and
// removes the cgroup: the same calls, with no lines whose order could mix.
// finish waits for it, then removes the record.
type teardown struct {
	n     *sys.Narrator
	rec   *state.Run
	layer *Layer // nil: nothing was mounted
	keep  bool

	released  bool
	unmounted bool          // false: the mount is still there, so nothing under it may go
	notes     chan []string // what the background removal could not remove
	recordErr error         // the first update of the record that failed
}

// saved keeps a failed update of the record: the first is the run's
// RecordErr, said at its end whatever --quiet; a later one is a note.
func (t *teardown) saved(err error, then string) {
	if err == nil {
		return
	}
	if t.recordErr == nil {
		t.recordErr = fmt.Errorf("container %s: its record could not be updated (%v): ps -a may show it wrongly (as left by a killed workshop); %s", t.rec.ID, err, then)
		return // said at the run's end, whatever --quiet
	}
	t.n.Note("could not update the record of %s again: %v (%s)", t.rec.ID, err, then)
}

func (t *teardown) release() {
	if t.released {
		return
	}
	t.released = true
	if t.layer != nil {
		if err := t.layer.Unmount(t.n); err != nil {
			t.n.Note("could not unmount %s: %v ('workshop clean' will retry)", t.layer.Merged, err)
			return
		}
	}
	t.unmounted = true
	if t.keep {
		return
	}
	t.notes = make(chan []string, 1)
	dirs := append([]string(nil), t.rec.Dirs...)
	remove := func() {
		var notes []string
		for _, d := range dirs {
			if err := t.n.RemoveTree(d); err != nil {
				notes = append(notes, fmt.Sprintf("could not remove %s: %v", d, err))
			}
		}
		t.notes <- notes
	}
	if t.n.Options().Quiet {
		go remove()
	} else {
		remove()
	}
}

func (t *teardown) finish(cgroupLeft, processesLeft bool) {
	if processesLeft && !t.released {
		// Processes of the container are still in its group (Ended was
		// not called: one outlived the kill, stuck in the kernel). They
		// may still write through the root: its mount and its layer stay
		// with them, and the record says so, for clean, which kills them
		// and removes the layer only once the group is gone (it detaches
		// the mount before, lazily: the processes keep their view).
		t.rec.Pid, t.rec.ProcessesLeft = 0, true
		t.saved(t.rec.Save(), "'workshop clean' kills what is left of it, then removes the rest")
		t.n.Note("the container's root stays mounted, and its writable layer with it, while processes of it are left: 'workshop clean' kills them, then removes the rest")
		return
	}
	t.release()
	if !t.unmounted {
		return
	}
	rec := t.rec
	rec.Pid, rec.Mounts = 0, nil
	if !cgroupLeft {
		rec.Cgroups = nil
	}
	if t.keep {
		t.saved(rec.Save(), "'workshop clean' removes it, its kept layer too")
		if rec.Copied {
			t.n.Note("--keep: the container's root, a full copy of its image that it wrote in, stays in %s; 'workshop clean' removes it", t.layer.Merged)
			return
		}
		t.n.Note("--keep: the writable layer stays in %s; 'workshop diff %s' shows it, 'workshop clean' removes it", rec.Upper, rec.ID)
		return
	}
	for _, note := range <-t.notes {
		t.n.Note("%s", note)
	}
	if cgroupLeft {
		rec.Dirs = nil
		t.saved(rec.Save(), "'workshop clean' removes its cgroup and the record")
		return
	}
	if err := rec.Forget(); err != nil {
		t.n.Note("could not remove the record %s: %v ('workshop clean' will retry)", rec.Dir(), err)
	}
}

func refString(img imagetar.Image) string {
	if s := img.Ref.String(); s != "" && s != ":" {
		return s
	}
	return img.ShortID()
}

// lockNames takes the lock on the names of the state dir's containers (a
// flock on the containers directory itself: no lock file to leave behind)
// and returns its release. It is bookkeeping, not a lesson: not narrated.
func lockNames(stateDir string) (func(), error) {
	dir := state.ContainersDir(stateDir)
	for {
		if err := state.MkdirPrivate(dir); err != nil {
			return nil, fmt.Errorf("record the container: %w", err)
		}
		f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed by a clean between the two calls
		}
		if err != nil {
			return nil, fmt.Errorf("record the container: %w", err)
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("record the container: lock %s: %w", f.Name(), err)
		}
		// `workshop clean` removes the directory when it is empty: a lock
		// taken on a directory removed meanwhile locks nothing another run
		// would look at. Locked and still the directory of that name: held.
		if sameDir(f, dir) {
			return func() { f.Close() }, nil // closing the file releases the lock
		}
		f.Close()
	}
}

// sameDir reports whether the open directory f is still the one at path.
func sameDir(f *os.File, path string) bool {
	open, errOpen := f.Stat()
	named, errNamed := os.Stat(path)
	return errOpen == nil && errNamed == nil && os.SameFile(open, named)
}

// namePattern is what a container name may be, as Docker has it: it shows
// in `workshop ps` and names the container on the command line.
var namePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`) })

// freeName picks a generated name that no container of stateDir has (the
// caller holds the names' lock): a few tries, then the name with a number,
// so that a name always reaches one container.
func freeName(stateDir string) string {
	taken := map[string]bool{}
	if runs, err := state.List(stateDir); err == nil {
		for _, r := range runs {
			taken[r.Name] = true
		}
	}
	name := NewName()
	for i := 0; taken[name] && i < 20; i++ {
		name = NewName()
	}
	base := name
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	return name
}

// nameFree refuses a name that is not a name, or that another container
// has: a running one, or one whose layer was kept (`workshop diff NAME`
// must mean one container).
func nameFree(stateDir, name string) error {
	if !namePattern().MatchString(name) {
		return exit.Errorf(exit.ToolFailed, "--name %q: a name is letters, digits, '_', '.' and '-', starting with a letter or digit (up to 63)", name)
	}
	runs, err := state.List(stateDir)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Name != name {
			continue
		}
		owned, forgotten := r.Ownership()
		if forgotten {
			continue // ended since the list was read: the name is free
		}
		if owned {
			return exit.Errorf(exit.ToolFailed, "the name %q is taken by running container %s: choose another with --name", name, r.ID)
		}
		if r.Keep {
			return exit.Errorf(exit.ToolFailed, "the name %q is taken by container %s, whose layer was kept: choose another with --name, or 'workshop clean' it", name, r.ID)
		}
		return exit.Errorf(exit.ToolFailed, "the name %q is taken by container %s, left by a run that was killed: choose another with --name, or 'workshop clean' it", name, r.ID)
	}
	return nil
}

// ImageShell is the shell a run with no command starts: the image's bash
// when it has one (line editing, history, completion, as step 3's), its
// sh otherwise (every image has one, or no shell at all), with -i when
// interactive. bash is looked for inside the image's root: an absolute
// symlink on the way (bin -> /usr/bin) resolves there, not on the host.
func ImageShell(rootfs string, interactive bool) []string {
	shell := "/bin/sh"
	if programIn(rootfs, "/bin/bash") {
		shell = "/bin/bash"
	}
	if interactive {
		return []string{shell, "-i"}
	}
	return []string{shell}
}

// programIn reports whether the image root rootfs holds an executable
// file at path, its symlinks resolved inside the root, as the container
// will see them (bin -> usr/bin, sh -> busybox).
func programIn(rootfs, path string) bool {
	p, err := securejoin.SecureJoin(rootfs, path)
	if err != nil {
		return false
	}
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// commandIsPID1OnTerminal reports whether the command given (not the
// image's shell, which handles Ctrl-C) will be PID 1, without --init, with
// the terminal handed to it.
func commandIsPID1OnTerminal(o Options) bool {
	flags, err := namespaces.ParseNamespaces(o.Namespaces)
	if o.Interactive || o.Init || err != nil || flags&unix.CLONE_NEWPID == 0 {
		return false
	}
	f, ok := o.Stdin.(*os.File)
	return ok && namespaces.NoTerminalFor(f, o.Stdout) == "" // a terminal workshop owns
}
