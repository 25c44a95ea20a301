package imagetar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/sys"
	lddcopy "github.com/workshop-dev/workshop/steps/02-ldd-copy"
	"golang.org/x/sys/unix"
)

// BaseRef is the built-in image: made on first use from this machine's own
// programs through step 2, so that a container runs without any download.
const BaseRef = "base:latest"

// BaseTools are the programs the base image gets, those the host has: a
// shell and the everyday tools a student tries first in a container.
var BaseTools = []string{
	"sh", "bash", "ls", "cat", "ps", "mount", "umount", "hostname", "id", "whoami",
	"echo", "sleep", "true", "false", "env", "mkdir", "rm", "touch", "grep", "sed",
	"head", "tail", "wc", "cp", "mv", "ln", "chmod", "uname", "pwd", "df", "free",
	"kill", "date", "stat", "find", "sort", "tr", "cut", "readlink", "top", "ip",
	"tty", "stty",
}

// baseFiles are written into the base image so that `id` and `ls -l` show
// names, and `ps` and `mount` find the directories step 6 mounts on.
var baseFiles = map[string]string{
	"etc/passwd":   "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
	"etc/group":    "root:x:0:\nnogroup:x:65534:\n",
	"etc/hostname": "workshop\n",
}

// baseTerminals are the terminal types whose terminfo entries the base
// image gets, those the host has: top, less and every curses program read
// the entry of $TERM, which a container inherits, and without one top
// exits at once ("terminals database is inaccessible"). A fixed list, not
// the maker's $TERM: the image's id must not depend on the terminal it was
// made from (a note says when $TERM is not among them).
var baseTerminals = []string{"ansi", "dumb", "linux", "vt100", "vt102", "vt220", "xterm", "xterm-color", "xterm-256color",
	"screen", "screen-256color", "screen.xterm-256color", "tmux", "tmux-256color", "rxvt-unicode", "rxvt-unicode-256color",
	"alacritty", "foot", "xterm-kitty", "st-256color"}

// terminfoDirs are where ncurses looks for them, in its order.
var terminfoDirs = []string{"etc/terminfo", "lib/terminfo", "usr/share/terminfo"}

var baseDirs = map[string]os.FileMode{"proc": 0o555, "sys": 0o555, "dev": 0o755, "tmp": os.ModeSticky | 0o777, "root": 0o700, "etc": 0o755, "run": 0o755}

// EnsureBase returns the built-in image base:latest, making it first if
// the store lacks it: step 2 copies the host's programs (BaseTools, those
// found) and their libraries into a fresh root, which becomes the image.
// Two runs at once make it once: the second waits for the store's lock and
// finds it there.
func (s *Store) EnsureBase(ctx context.Context, n *sys.Narrator) (Image, error) {
	if img, err := s.Resolve(BaseRef); err == nil || !errors.Is(err, ErrNotFound) {
		return img, err
	}
	unlock, err := s.lock(n, true)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	if img, err := s.resolve(BaseRef); err == nil || !errors.Is(err, ErrNotFound) {
		return img, err // made by another run while this one waited
	}
	n.Note("the built-in image %s is not in the store yet: making it once from this machine's programs, with step 2 (ldd and copy)", BaseRef)
	work, err := s.newDir(n)
	if err != nil {
		return Image{}, err
	}
	defer n.RemoveTree(work)
	root := filepath.Join(work, "base-root")
	if err := makeBaseRoot(n, root); err != nil {
		// The copy's own stop (Ctrl-C): its sentence is of a step's root,
		// which stays; this one goes whole.
		if stop := (*exit.Error)(nil); errors.As(err, &stop) && stop.Code > exit.SignalBase {
			return Image{}, exit.Errorf(stop.Code, "interrupted by %s while making the base image: the half-made base image was removed; the store is as it was", sys.SignalName(unix.Signal(stop.Code-exit.SignalBase)))
		}
		if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
			// Said as an import that would not fit is (ErrNoRoom): the
			// copy's own error names a temporary root, gone by now.
			return Image{}, fmt.Errorf("make the base image: %w in %s for a copy of this machine's shell and tools (the image takes a few tens of MB): free some room there, or give workshop another --state-dir", ErrNoRoom, filepath.Dir(s.dir))
		}
		return Image{}, fmt.Errorf("make the base image: %w", err)
	}
	// A signal that came as the copy ended (after its last look) stops
	// the pack before it begins; one that comes during the pack stops it,
	// and it removes what it half made.
	if ctx.Err() != nil {
		return Image{}, &InterruptedError{What: "the half-made base image was removed; the store is as it was", Cause: context.Cause(ctx)}
	}
	r, _ := ParseRef(BaseRef)
	return s.add(ctx, n, r, "built in: host programs copied by step 2", func(w io.Writer) (Stats, error) {
		return Pack(ctx, root, w, PackOptions{Progress: s.Progress})
	})
}

// Find is Resolve, except that the built-in base image is made on first use.
func (s *Store) Find(ctx context.Context, n *sys.Narrator, ref string) (Image, error) {
	img, err := s.Resolve(ref)
	if errors.Is(err, ErrNotFound) && isBase(ref) {
		return s.EnsureBase(ctx, n)
	}
	return img, err
}

func isBase(ref string) bool {
	r, err := ParseRef(ref)
	return err == nil && r.String() == BaseRef
}

// makeBaseRoot fills root with the base tools the host has, through step 2,
// plus the few directories and files every root needs.
func makeBaseRoot(n *sys.Narrator, root string) error {
	var bins []string
	for _, name := range BaseTools {
		// /bin/NAME where the host has it, so that the image has /bin/sh
		// (on a merged-/usr host, bin -> usr/bin comes along as a symlink).
		if _, err := os.Stat("/bin/" + name); err == nil {
			bins = append(bins, "/bin/"+name)
			continue
		}
		if p, err := lddcopy.Lookup(name); err == nil {
			bins = append(bins, p)
		}
	}
	if err := lddcopy.Populate(n, root, bins); err != nil {
		return err
	}
	for d, mode := range baseDirs {
		p := filepath.Join(root, d)
		if err := os.MkdirAll(p, mode); err != nil {
			return err
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
	}
	for f, content := range baseFiles {
		p := filepath.Join(root, f)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o644); err != nil { // whatever the umask cut
			return err
		}
	}
	copied, err := copyTerminfo(root, baseTerminals)
	if err != nil {
		return err
	}
	// Bookkeeping around step 2's copies, summarised as an unpack's entries
	// are rather than shown call by call.
	n.Note("beside step 2's copies, the base image gets, written without a line each: the directories %s; %s; and the host's terminfo entries for %d terminal types (%s), for top and less",
		strings.Join(slices.Sorted(maps.Keys(baseDirs)), ", "), strings.Join(slices.Sorted(maps.Keys(baseFiles)), ", "), len(copied), strings.Join(copied, ", "))
	if term := os.Getenv("TERM"); term != "" && !slices.Contains(copied, term) {
		n.Note("your terminal's type, TERM=%s, is not among them: in a container from this image, top and less need TERM=xterm (or another of those)", sys.OneLine(term))
	}
	// The root itself: an image's / is 0755, and its id must not depend on
	// who built it, whatever the umask the directories were made under.
	return os.Chmod(root, 0o755)
}

// copyTerminfo copies into root the host's terminfo entries for terms, each
// from the first directory ncurses would find it in, to the same place
// (lib/terminfo/x/xterm), as a file: the host's may be a symlink to
// another entry. A term the host has no entry for is left out; it returns
// those it copied. The place
// is resolved inside the root, as an image's entries are (SecureJoin, then
// pathrs-lite's MkdirAllHandle): the root's lib is the host's symlink,
// copied by step 2, and an absolute one (lib -> /usr/lib) would otherwise
// lead to the host's own directory.
func copyTerminfo(root string, terms []string) (copied []string, err error) {
	rootDir, err := os.Open(root)
	if err != nil {
		return nil, err
	}
	defer rootDir.Close()
	for _, term := range terms {
		for _, dir := range terminfoDirs {
			rel := filepath.Join(dir, term[:1])
			data, err := os.ReadFile(filepath.Join("/", rel, term))
			if err != nil {
				continue
			}
			if err := writeInRoot(rootDir, root, rel, term, data); err != nil {
				return nil, fmt.Errorf("copy the terminfo entry %s into the base image: %w", term, err)
			}
			copied = append(copied, term)
			break
		}
	}
	return copied, nil
}

// writeInRoot writes data as the file name in the directory rel of the
// root (root, open as rootDir), making the directories on the way (0755,
// whatever the umask) and never leaving the root.
func writeInRoot(rootDir *os.File, root, rel, name string, data []byte) error {
	rel, err := resolveInRoot(root, rel)
	if err != nil {
		return err
	}
	// Each directory on the way, made or found, gets 0755.
	var dir *os.File
	parts := strings.Split(rel, "/")
	for i := range parts {
		d, err := pathrs.MkdirAllHandle(rootDir, filepath.Join(parts[:i+1]...), 0o755)
		if dir != nil {
			dir.Close()
		}
		if err != nil {
			return err
		}
		dir = d
		if err := unix.Fchmod(int(dir.Fd()), 0o755); err != nil {
			dir.Close()
			return err
		}
	}
	defer dir.Close()
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Chmod(0o644)
}
