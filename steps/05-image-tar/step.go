package imagetar

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/sys"
	namespaces "github.com/workshop-dev/workshop/steps/03-namespaces"
	"golang.org/x/sys/unix"
)

// StepConfig is what `workshop step 5` is given.
type StepConfig struct {
	StateDir string // <state>: the step works in <state>/step5
	Root     string // the root to pack; "" means step 2's <state>/my-new-root
	Args     []string
	Gzip     bool     // dockercontainer.tar.gz instead of dockercontainer.tar
	Hostname string   // passed on to step 3
	NS       []string // the namespaces of the run (step 3's names); nil means all seven
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	Progress io.Writer // a terminal for progress lines, or nil
}

// Step is `workshop step 5`, the walkthrough's images:
//
//	tar cvf dockercontainer.tar my-new-root
//	mkdir container-root; tar xf dockercontainer.tar -C container-root/
//	unshare … chroot container-root bash
//
// It first does it the walkthrough's way and shows what goes wrong (every
// entry is stored under my-new-root/, so the chroot finds no bash), then
// the way images do it: entries relative to the root, unpacked safely into
// a fresh container-root, where step 3 runs the command.
func Step(ctx context.Context, n *sys.Narrator, cfg StepConfig) (int, error) {
	root := cfg.Root
	if root == "" {
		root = filepath.Join(cfg.StateDir, "my-new-root")
	}
	work := filepath.Join(cfg.StateDir, "step5")
	// A root that holds step 5's own directory would be packed into itself.
	if Holds(root, work) {
		return 0, fmt.Errorf("the root %s holds step 5's directory %s, where the tar is written: give a root of its own", root, work)
	}
	// Ctrl-C (ctx cancelled) before the command runs stops the step, and
	// what it half made is removed: say so at once, since a pack or an
	// unpack notices it only at its next entry. Once the command runs, the
	// signal is the command's (step 3 passes it on), and this note is off.
	stopNote := context.AfterFunc(ctx, func() {
		n.Note("%s: stopping, and removing what was half made", why(context.Cause(ctx)))
	})
	defer stopNote()
	args := cfg.Args
	if len(args) == 0 {
		args = []string{"/bin/bash"}
	}
	// First the lock: a second step 5 is refused before it copies anything
	// into the root the first one may be packing.
	if err := mkdirIfMissing(n, work); err != nil {
		return 0, err
	}
	unlock, err := lockWork(n, work)
	if err != nil {
		return 0, err
	}
	defer unlock()
	// bash and ls, as the walkthrough's root has them by now, and the command.
	for _, prog := range []string{"/bin/bash", "ls"} {
		if _, err := namespaces.EnsureCommand(n, root, prog); err != nil {
			return 0, fmt.Errorf("fill the root %s with step 2: %w", root, err)
		}
	}
	command, err := namespaces.EnsureCommand(n, root, args[0])
	if err != nil {
		return 0, fmt.Errorf("fill the root %s with step 2: %w", root, err)
	}
	args = append([]string{command}, args[1:]...)
	if err := walkthroughPitfall(ctx, n, root, work, cfg.Stderr); err != nil {
		return 0, err
	}

	n.Note("now the way images do it: the entries relative to the root (tar -C %s -cf dockercontainer.tar .)", hint.Quote(rootName(root)))
	tarPath, other := filepath.Join(work, "dockercontainer.tar"), filepath.Join(work, "dockercontainer.tar.gz")
	if cfg.Gzip {
		tarPath, other = other, tarPath
	}
	// The other format's file, from a run before with or without --gzip,
	// would be taken for this run's.
	if _, err := os.Lstat(other); err == nil {
		if err := n.Unlink(other); err != nil {
			return 0, err
		}
	}
	st, err := packTo(ctx, n, root, tarPath, PackOptions{Gzip: cfg.Gzip, Progress: cfg.Progress})
	if err != nil {
		return 0, err
	}
	n.Note("packed %s: %s; its entries are %s…", tarPath, st, firstNames(tarPath, 3))

	dest := filepath.Join(work, "container-root")
	if err := removeOld(n, dest); err != nil {
		return 0, err
	}
	if _, err := unpackFile(ctx, n, tarPath, dest, UnpackOptions{Progress: cfg.Progress}); err != nil {
		return 0, err
	}
	stopped := func() error {
		return &InterruptedError{What: "stopped before running " + args[0] + " (the " + tarPath + " and container-root it made are complete)", Cause: context.Cause(ctx)}
	}
	if !stopNote() || ctx.Err() != nil {
		return 0, stopped()
	}
	n.Note("container-root/bin/bash is there: running %s in it with step 3's namespaces, as unshare … chroot container-root does", strings.Join(args, " "))
	c, err := namespaces.Start(n, namespaces.Config{
		Root:       dest,
		Args:       args,
		Namespaces: cfg.NS,
		Hostname:   cfg.Hostname,
		StateDir:   cfg.StateDir,
		Stdin:      cfg.Stdin,
		Stdout:     cfg.Stdout,
		Stderr:     cfg.Stderr,
	})
	if err != nil {
		return 0, err
	}
	// Step 3 catches the stop signals from its clone on. One that came
	// between the check above and then reached only ctx: looked at again
	// now, before the command is let go.
	if ctx.Err() != nil {
		c.Abort()
		return 0, stopped()
	}
	if err := c.Release(); err != nil {
		c.Abort()
		return 0, err
	}
	return c.Wait()
}

// walkthroughPitfall does what the walkthrough types, for real: a tar with
// the directory's name in front of every entry, unpacked as tar xf -C
// does (nothing stripped), then a chroot into it that finds no bash.
func walkthroughPitfall(ctx context.Context, n *sys.Narrator, root, work string, stderr io.Writer) error {
	name := rootName(root)
	n.Note("first the walkthrough's way: tar cvf dockercontainer.tar %s, then tar xf dockercontainer.tar -C container-root/", hint.Quote(name))
	tarPath := filepath.Join(work, "walkthrough.tar")
	if _, err := packTo(ctx, n, root, tarPath, PackOptions{Prefix: name}); err != nil {
		return err
	}
	n.Note("its entries are %s…: tar stores each path as it was given, the directory's name included", firstNames(tarPath, 3))
	dest := filepath.Join(work, "walkthrough-root")
	if err := removeOld(n, dest); err != nil {
		return err
	}
	if _, err := unpackFile(ctx, n, tarPath, dest, UnpackOptions{}); err != nil {
		return err
	}
	if name == "bin" {
		// The archive's only top-level entry is the root's name: here it
		// is bin, so the chroot's /bin/bash would be whatever the root has
		// at its top as bash, run as real root in a plain chroot, which a
		// root process can leave (step 1): a root from an untrusted image
		// would run its own code on the host.
		n.Note("the root's directory is itself named bin, so the chroot's /bin/bash would be %s, the root's own top-level bash, not a missing file: "+
			"not run (it would run as real root in a plain chroot); name the root otherwise to see the walkthrough's failure", filepath.Join(dest, "bin", "bash"))
		return nil
	}
	n.Note("so bash is at %s, and the chroot that follows looks for /bin/bash:", filepath.Join(dest, name, "bin", "bash"))
	// --quiet: the expected failure would read as this step's; kept, to
	// say why where the chroot failed otherwise.
	var quieted bytes.Buffer
	if n.Writer() == io.Discard {
		stderr = &quieted
	}
	status, err := namespaces.Run(n, namespaces.Config{
		Root:       dest,
		Args:       []string{"/bin/bash", "-c", "true"},
		Namespaces: []string{}, // a plain chroot, as in step 2: the failure is the chroot's
		Stdout:     io.Discard, // `true` prints nothing; the chroot's failure is on stderr
		Stderr:     stderr,
	})
	if err != nil {
		return fmt.Errorf("the walkthrough's chroot: %w", err)
	}
	if ctx.Err() != nil { // Ctrl-C reached the chroot too: its status says nothing
		return &InterruptedError{What: "stopped after the walkthrough's chroot (" + tarPath + " and " + dest + " are complete)", Cause: context.Cause(ctx)}
	}
	if status != 127 {
		said := ""
		if last := lastSaid(quieted.String()); last != "" {
			said = ": " + last
		}
		return fmt.Errorf("the walkthrough's chroot into %s ended with status %d, where the lesson expects 127 (no /bin/bash there)%s", dest, status, said)
	}
	n.Note("exit status 127, as the walkthrough's chroot said: chroot: failed to run command 'bash': No such file or directory")
	return nil
}

// firstNames lists the first k entry names of the archive at p, as
// `tar tf p | head` would, for a note.
func firstNames(p string, k int) string {
	f, err := os.Open(p)
	if err != nil {
		return "?"
	}
	defer f.Close()
	r, _, err := Decompress(f)
	if err != nil {
		return "?"
	}
	tr := tar.NewReader(r)
	var names []string
	for len(names) < k {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, hdr.Name)
	}
	return strings.Join(names, ", ")
}

// packTo packs root into a new file at p.
func packTo(ctx context.Context, n *sys.Narrator, root, p string, opts PackOptions) (Stats, error) {
	f, err := n.Create(p, 0o644)
	if err != nil {
		return Stats{}, err
	}
	st, err := Pack(ctx, root, f, opts)
	if cerr := n.Close(f); err == nil {
		err = cerr
	}
	if err == nil {
		return st, nil
	}
	if rerr := n.Unlink(p); rerr != nil {
		return st, fmt.Errorf("%w; and the half-made %s could not be removed: %v", err, p, rerr)
	}
	if interrupted(ctx, err) {
		return st, &InterruptedError{What: "the half-made " + p + " was removed", Cause: context.Cause(ctx)}
	}
	return st, err
}

// unpackFile unpacks the archive at p into dest.
func unpackFile(ctx context.Context, n *sys.Narrator, p, dest string, opts UnpackOptions) (Stats, error) {
	f, err := n.Open(p)
	if err != nil {
		return Stats{}, err
	}
	defer n.Close(f)
	st, err := Unpack(ctx, n, f, dest, opts)
	if err != nil {
		return st, fmt.Errorf("unpack %s: %w", p, err)
	}
	return st, nil
}

// lockWork takes step 5's directory for this run, and returns its release:
// an exclusive flock on the directory itself, held until the command in
// container-root has ended. Each run packs its tars and unpacks its roots
// there anew; a second run meanwhile would rewrite the tar the first is
// unpacking, and remove the container-root the first one's command is
// running in. So it is refused at once (waiting could mean waiting for
// another terminal's shell to end).
func lockWork(n *sys.Narrator, work string) (func(), error) {
	fd, err := n.Openat(work, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", work, err)
	}
	err = n.Because("one step 5 at a time in this state dir: each remakes the tars and roots here (LOCK_NB: fail at once instead of waiting)").
		Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		n.CloseFd(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another workshop step 5 is running in this state dir, and its command may still be running in %s, which this one would remove to unpack it anew: let that one end first, or give this one a --state-dir of its own",
				filepath.Join(work, "container-root"))
		}
		return nil, fmt.Errorf("lock %s: %w", work, err)
	}
	return func() { n.CloseFd(fd) }, nil // closing the directory releases the lock
}

// lastSaid is the last line of s that is not empty, without a "workshop: "
// in front.
func lastSaid(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimPrefix(lines[len(lines)-1], "workshop: ")
}

// removeOld removes what an earlier run of the step left at p, so that the
// unpack makes it fresh. RemoveTree never follows a symlink inside it.
func removeOld(n *sys.Narrator, p string) error {
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	n.Note("removing the %s of an earlier run (rm -rf), to unpack it fresh", p)
	if err := n.RemoveTree(p); err != nil {
		return fmt.Errorf("remove the old %s: %w", p, err)
	}
	return nil
}

// mkdirIfMissing makes p and what it lacks above it, each mkdir narrated
// (a directory there already is left, and shown nothing).
func mkdirIfMissing(n *sys.Narrator, p string) error { return n.MkdirAll(p, 0o755) }

// rootName is the root's own name, as `tar cvf dockercontainer.tar NAME`
// stores it in front of every entry (my-new-root for step 2's root).
func rootName(root string) string {
	name := filepath.Base(filepath.Clean(root))
	if name == "/" || name == "." || name == ".." {
		return "my-new-root"
	}
	return name
}
