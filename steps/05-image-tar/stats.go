package imagetar

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/workshop-dev/workshop/internal/units"
)

// Stats counts what a pack or an unpack went through.
type Stats struct {
	Entries   int
	Dirs      int
	Files     int
	Symlinks  int
	Hardlinks int
	Devices   int
	Fifos     int
	Skipped   int   // files a pack left out (sockets, other filesystems)
	Bytes     int64 // bytes of regular files' contents
}

// count counts an entry of this type (not Entries, not Bytes).
func (s *Stats) count(typ byte) {
	switch typ {
	case tar.TypeDir:
		s.Dirs++
	case tar.TypeReg:
		s.Files++
	case tar.TypeSymlink:
		s.Symlinks++
	case tar.TypeLink:
		s.Hardlinks++
	case tar.TypeChar, tar.TypeBlock:
		s.Devices++
	case tar.TypeFifo:
		s.Fifos++
	}
}

// String is the one-line summary the narrator prints.
func (s Stats) String() string {
	parts := []string{units.Count(s.Dirs, "directory", "directories"),
		units.Count(s.Files, "file", "files") + " (" + HumanSize(s.Bytes) + ")"}
	for _, c := range []struct {
		n          int
		one, other string
	}{
		{s.Symlinks, "symlink", "symlinks"},
		{s.Hardlinks, "hardlink", "hardlinks"},
		{s.Devices, "device node", "device nodes"},
		{s.Fifos, "fifo", "fifos"},
		{s.Skipped, "skipped", "skipped"},
	} {
		if c.n > 0 {
			parts = append(parts, units.Count(c.n, c.one, c.other))
		}
	}
	return units.Count(s.Entries, "entry", "entries") + ": " + strings.Join(parts, ", ")
}

// HumanSize writes a byte count as people read it: 512 B, 4.2 kB, 13 MB.
// Decimal units, as docker image ls prints them.
func HumanSize(b int64) string {
	const unit = 1000
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	f := float64(b)
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		f /= unit
		if f < unit {
			if f < 10 {
				return fmt.Sprintf("%.1f %s", f, u)
			}
			return fmt.Sprintf("%.0f %s", f, u)
		}
	}
	return fmt.Sprintf("%.0f PB", f/unit)
}

// ProgressTo returns w if it is a terminal (where a progress line can be
// redrawn in place), and nil otherwise: a pipe or a log gets the summary only.
func ProgressTo(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return w
	}
	return nil
}

// progress redraws "unpacking… 1234 entries, 56 MB" on a terminal, at most
// five times a second, and erases it at the end.
type progress struct {
	w     io.Writer
	verb  string
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, verb string) *progress {
	return &progress{w: w, verb: verb, last: time.Now()}
}

func (p *progress) update(entries int, bytes int64) {
	if p.w == nil || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.drawn = true
	fmt.Fprintf(p.w, "\r\033[K  %s… %d entries, %s", p.verb, entries, HumanSize(bytes))
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
