package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/sys"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

func init() {
	subcommands = append(subcommands, newImageCmd())
}

func newImageCmd() *cobra.Command {
	img := &cobra.Command{
		Use:   "image",
		Short: "The local image store: pack, import, export, ls, tag, rm, unpack",
		Long: `Images live in the state dir's images/: each is a tar whose entries are
relative to the root, and that root unpacked once (step 6 runs containers on
top of it, never copying it). An image's id is the sha256 of its tar.

base:latest is built in: it is made from this machine's own programs (with
step 2) the first time it is used.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("which image command? pack, import, export, ls, tag, rm or unpack (see 'workshop image --help')")
			}
			return usageError("%q is not an image command: pack, import, export, ls, tag, rm or unpack (see 'workshop image --help')", args[0])
		},
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	img.AddCommand(
		imageCmd("pack DIR NAME[:TAG]", "Make an image of a root directory (its entries stored relative to it)", 2, halfImage,
			func(ctx context.Context, s *imagetar.Store, _ io.Writer, args []string) error {
				_, err := s.Pack(ctx, narrator(), args[0], args[1])
				return err
			}),
		imageCmd("import FILE NAME[:TAG]", "Make an image of a root filesystem tar, gzipped or not (- reads standard input): the walkthrough's dockercontainer.tar, docker export output", 2, halfImage,
			func(ctx context.Context, s *imagetar.Store, _ io.Writer, args []string) error {
				if args[0] == "-" {
					_, err := s.ImportFrom(ctx, narrator(), os.Stdin, args[1])
					return err
				}
				_, err := s.Import(ctx, narrator(), args[0], args[1])
				return err
			}),
		imageCmd("export NAME[:TAG] FILE", "Write an image as a tar (gzipped if FILE ends in .gz or .tgz; - writes standard output)", 2, "",
			func(ctx context.Context, s *imagetar.Store, _ io.Writer, args []string) error {
				n := narrator()
				// Before Find, which may make the base image first.
				if args[1] != "-" {
					if err := checkImageFileOutsideKept("export to", args[1]); err != nil {
						return err
					}
				}
				if _, err := s.Find(ctx, n, args[0]); err != nil {
					return err
				}
				if args[1] == "-" {
					if term.IsTerminal(int(os.Stdout.Fd())) {
						return usageError("standard output is a terminal: redirect it to a file (workshop image export %s - > image.tar)", args[0])
					}
					if closedAtStart(os.Stdout) {
						return usageError("standard output was closed (>&-), or is /dev/null opened for reading and writing, which Go's runtime puts in a closed one's place: the tar would go nowhere; redirect it to a file (workshop image export %s - > image.tar), or, to throw it away, to > /dev/null", args[0])
					}
					_, err := s.ExportTo(ctx, n, args[0], os.Stdout, false)
					if errors.Is(err, syscall.EPIPE) {
						// `… - | head`: the reader had enough, as tar's
						// does; 141 is 128 + SIGPIPE, as a shell reports it.
						return exit.Errorf(exit.SignalBase+int(syscall.SIGPIPE), "export %s: the reader of standard output closed it before the end of the tar", args[0])
					}
					return err
				}
				_, err := s.Export(ctx, n, args[0], args[1])
				return err
			}),
		imageCmd("ls", "List the images: name, tag, id, size, created", 0, "",
			func(_ context.Context, s *imagetar.Store, out io.Writer, _ []string) error {
				return listImages(s, out)
			}),
		imageCmd("tag SRC DST", "Give the image SRC another name DST", 2, "",
			func(ctx context.Context, s *imagetar.Store, out io.Writer, args []string) error {
				n := narrator()
				img, moved, err := tagFound(ctx, s, n, args[0], args[1])
				if err != nil {
					return err
				}
				n.Note("%s is now also %s (%s)", args[0], img.Ref, img.ShortID())
				if moved.From != "" {
					fmt.Fprintf(out, "%s named image %s before: %s\n", img.Ref, moved.From[:12], moved.Fate())
				}
				return nil
			}),
		imageCmd("rm NAME[:TAG]…", "Remove names; an image goes with its last name", -1, "",
			func(_ context.Context, s *imagetar.Store, out io.Writer, args []string) error {
				// Each in turn, as docker rmi does: one that cannot go
				// is said, and the others still go. A name given twice
				// (x and x:latest too) is removed once: its second turn
				// would find it gone, and say to make it.
				return eachOf(distinctRefs(args), "names", "not removed", func(ref string) error {
					img, removed, err := s.Remove(narrator(), ref)
					if err != nil {
						return err
					}
					if img.Ref.Name != "" {
						fmt.Fprintf(out, "Untagged: %s\n", img.Ref)
					}
					if removed {
						fmt.Fprintf(out, "Deleted: sha256:%s\n", img.ID)
					}
					return nil
				})
			}),
		unpackCmd(),
	)
	return img
}

// distinctRefs is refs without the repeats of a name already in it, in
// order: x:latest repeats x. A word that is no name stays, for its
// command to refuse.
func distinctRefs(refs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, word := range refs {
		key := word
		if r, err := imagetar.ParseRef(word); err == nil {
			key = r.String()
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, word)
		}
	}
	return out
}

// unpackCmd is `image unpack NAME[:TAG] DIR [--devices]`.
func unpackCmd() *cobra.Command {
	var devices bool
	c := imageCmd("unpack NAME[:TAG] DIR", "Unpack a fresh copy of an image's root into DIR (which must not exist, or be empty)", 2, "",
		func(ctx context.Context, s *imagetar.Store, _ io.Writer, args []string) error {
			n := narrator()
			// Before Find, which may make the base image first.
			if err := checkImageFileOutsideKept("unpack into", args[1]); err != nil {
				return err
			}
			// An empty one of the machine's own (/mnt, /srv) would be
			// replaced by the image's root.
			if what := hostsOwn(args[1]); what != "" {
				return usageError("unpack into %s: that is %s, which the unpack would replace with the image's root; give a new path, and workshop makes it", args[1], what)
			}
			if _, err := s.Find(ctx, n, args[0]); err != nil {
				return err
			}
			_, _, err := s.Unpack(ctx, n, args[0], args[1], devices)
			return err
		})
	c.Flags().BoolVar(&devices, "devices", false, "make the image's device nodes too (only real root outside a user namespace can): anyone who may reach DIR may then use those devices")
	return c
}

// checkImageFileOutsideKept refuses an unpack's DIR or an export's FILE
// that is the state dir or lies in its image store or containers'
// directory, as a step's --root is refused: 'workshop clean' would remove
// a directory there that no run records, and a file written into an
// image's unpacked root would be seen by every container of that image.
func checkImageFileOutsideKept(verb, p string) error {
	if imagetar.Holds(p, global.stateDir) {
		return usageError("%s %s: that is workshop's state dir, or holds it; give a path of your own", verb, p)
	}
	if k, ok := imagetar.OpenStore(global.stateDir).KeptPlace(p); ok {
		return usageError("%s %s: that is in workshop's %s (%s), which only workshop writes in: %s; give a path of your own", verb, p, k.What, k.Dir, k.Why)
	}
	return nil
}

// halfImage is what pack and import say when a signal stopped them: the
// addition's directory in the store is removed (and any an earlier kill
// left, by the next addition), and no tag is changed before the image is
// complete.
const halfImage = "the half-made image was removed; the store is as it was"

// tagFound gives the image src the name dst: Find first, which makes the
// built-in base image where it is missing, then Tag, which takes the
// store's lock apart. An image removed in between (an 'image rm' or a
// 'clean --images' at the same moment) is looked for once more, so that
// the built-in one is made again, as a tag alone would have, rather than
// said missing with a hint to pack it.
func tagFound(ctx context.Context, s *imagetar.Store, n *sys.Narrator, src, dst string) (imagetar.Image, imagetar.Moved, error) {
	for attempt := 1; ; attempt++ {
		if _, err := s.Find(ctx, n, src); err != nil {
			return imagetar.Image{}, imagetar.Moved{}, err
		}
		betweenFindAndTag(s)
		img, moved, err := s.Tag(n, src, dst)
		if errors.Is(err, imagetar.ErrNotFound) && attempt == 1 {
			continue
		}
		return img, moved, err
	}
}

// betweenFindAndTag lets a test remove the image where a concurrent rm
// would.
var betweenFindAndTag = func(*imagetar.Store) {}

// imageCmd makes one `workshop image` subcommand with exactly nargs
// arguments. A stop signal (exit.StopSignals: Ctrl-C, SIGTERM, SIGHUP,
// SIGQUIT) cancels the work, and what it half made is removed before
// workshop exits 128+n, as a container killed by the signal would;
// halfMade, when not empty, is what the command says then (unpack's own
// error says it, an *imagetar.InterruptedError).
func imageCmd(use, short string, nargs int, halfMade string, run func(ctx context.Context, s *imagetar.Store, out io.Writer, args []string) error) *cobra.Command {
	name := strings.Fields(use)[0]
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args: func(c *cobra.Command, args []string) error {
			// nargs < 0: at least -nargs, the last word repeated (rm
			// NAME[:TAG]…).
			if nargs >= 0 && len(args) != nargs || nargs < 0 && len(args) < -nargs {
				return usageError("usage: workshop image %s", use)
			}
			// An empty word (an unset variable) is no file and no name:
			// "" as a file would be tried as the current directory.
			words := strings.Fields(use)[1:]
			for i, a := range args {
				if strings.TrimSpace(a) == "" {
					return usageError("%s is empty (an unset variable?); usage: workshop image %s", strings.TrimSuffix(words[min(i, len(words)-1)], "…"), use)
				}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			// The store is root's alone (0700): without root, say so
			// before touching it.
			if err := requireRoot("image " + name); err != nil {
				return err
			}
			ctx, stop := interruptible()
			defer stop()
			s := imagetar.OpenStore(global.stateDir)
			s.Progress = progressTerminal()
			s.Say = narrator()
			// Through cobra's writer, which main watches: a report that
			// cannot be written (a full disk) is a failure, not an exit 0.
			return imageOutcome(ctx, run(ctx, s, c.OutOrStdout(), args), halfMade)
		},
	}
}

// imageOutcome is the end of an image command that ran with ctx (see
// interruptible): err said in the store's words, or, when a stop signal
// came meanwhile, 128+n and what became of the work, also when the work
// ended before it looked at ctx again (a Ctrl-C not said is one lost).
func imageOutcome(ctx context.Context, err error, halfMade string) error {
	sig, caught := caughtSignal(ctx)
	if caught && err == nil {
		return interrupted(sig, "it came as the command ended, and what it did is done, and stays")
	}
	if caught {
		var ie *imagetar.InterruptedError
		switch {
		case halfMade != "":
			return interrupted(sig, halfMade)
		case errors.As(err, &ie):
			return interrupted(sig, ie.What)
		}
	}
	return imageError(err)
}

// signalCause is the cause of a context cancelled by a signal.
type signalCause struct{ sig syscall.Signal }

func (c signalCause) Error() string { return "interrupted by " + sys.SignalName(c.sig) }

// catchSignals returns a context cancelled by a stop signal
// (exit.StopSignals: Ctrl-C, SIGTERM, SIGHUP, SIGQUIT, a sent SIGABRT…), whose cause (see
// caughtSignal) says which. workshop stays alive, to remove
// what it half made and say so.
func catchSignals() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	exit.Notify(sigs, exit.StopSignals...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel(signalCause{s.(syscall.Signal)})
		case <-done:
		}
	}()
	return ctx, func() {
		exit.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// interruptible is catchSignals saying at once that it is stopping: the
// work in progress notices only at its next step, then removes what it
// half made and returns.
func interruptible() (context.Context, func()) {
	ctx, stop := catchSignals()
	stopNote := context.AfterFunc(ctx, func() {
		if sig, ok := caughtSignal(ctx); ok {
			narrator().Note("%v: stopping, and removing what was half made", signalCause{sig})
		}
	})
	return ctx, func() {
		stopNote()
		stop()
	}
}

// caughtSignal is the signal that cancelled ctx, if one did.
func caughtSignal(ctx context.Context) (syscall.Signal, bool) {
	var c signalCause
	if errors.As(context.Cause(ctx), &c) {
		return c.sig, true
	}
	return 0, false
}

// interrupted is the end of a command a signal stopped: one sentence, and
// 128+n, the status of a process killed by signal n.
func interrupted(sig syscall.Signal, what string) error {
	return exit.Errorf(exit.SignalBase+int(sig), "interrupted by %s: %s", sys.SignalName(sig), what)
}

// imageError turns what the store says into one sentence and an exit code:
// 125 for everything the tool could not do.
func imageError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrPermission):
		return exit.Errorf(exit.ToolFailed, "%w: the image store is root's, run it with sudo", err)
	}
	var ee *exit.Error
	if errors.As(err, &ee) {
		return err
	}
	return exit.Errorf(exit.ToolFailed, "%w", err)
}

// listImages prints the store's images as docker image ls does.
func listImages(s *imagetar.Store, w io.Writer) error {
	imgs, err := s.List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTAG\tID\tSIZE\tCREATED")
	hasBase := false
	for _, img := range imgs {
		name, tag := img.Ref.Name, img.Ref.Tag
		if name == "" { // no name left, kept while a container runs from it
			name, tag = "<none>", "<none>"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, tag, img.ShortID(), imagetar.HumanSize(img.Size), ago(time.Since(img.Created)))
		hasBase = hasBase || img.Ref.String() == imagetar.BaseRef
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !hasBase {
		narrator().Note("%s is built in: it is made from this machine's programs the first time it is used", imagetar.BaseRef)
	}
	return nil
}

// ago says how long ago, as docker image ls does: "3 minutes ago".
func ago(d time.Duration) string {
	unit := func(n int, name string) string {
		if n == 1 {
			return "1 " + name + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, name)
	}
	switch {
	case d < time.Minute:
		return "less than a minute ago"
	case d < time.Hour:
		return unit(int(d.Minutes()), "minute")
	case d < 48*time.Hour:
		return unit(int(d.Hours()), "hour")
	default:
		return unit(int(d.Hours()/24), "day")
	}
}

// closedAtStart reports whether f, one of the three standard descriptors,
// was closed when workshop started: Go's runtime then opens /dev/null in
// its place, for reading and writing, and every write to it "succeeds".
// A shell's > /dev/null opens it for writing only.
func closedAtStart(f *os.File) bool {
	fd := int(f.Fd())
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || flags&unix.O_ACCMODE != unix.O_RDWR {
		return false
	}
	var st, null unix.Stat_t
	return unix.Fstat(fd, &st) == nil && unix.Stat("/dev/null", &null) == nil &&
		st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == null.Rdev
}
