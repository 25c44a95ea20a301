package imagetar

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// errEscapes is why a name like "../../etc/passwd" is refused: no cleaning
// makes it a path inside the root, so it cannot be placed safely.
var errEscapes = errors.New("its name climbs out of the root with ..")

// entryPath turns a name stored in a tar into a clean path relative to the
// root: "./bin/bash", "bin/bash" and "/bin/bash" all become "bin/bash", and
// the root itself is ".". A leading "/" is dropped, as GNU tar does ("Removing
// leading `/' from member names"): inside an image, / is the image's root.
// Names that still climb out with ".." are refused.
//
// strip, when not empty, is a top-level directory removed from the front of
// every name (the walkthrough's "my-new-root/").
func entryPath(name, strip string) (string, error) {
	p := path.Clean(strings.TrimLeft(name, "/"))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", errEscapes
	}
	if strip != "" {
		if p == strip {
			return ".", nil
		}
		if rest, ok := strings.CutPrefix(p, strip+"/"); ok {
			return rest, nil
		}
	}
	return p, nil
}

// linkTarget is entryPath for a hardlink's target, an archive name too. With
// strip, every entry of the archive sits under strip/: a target that does
// not is no entry of it, and is refused rather than moved under strip/ with
// the rest (GNU tar: "Cannot hard link").
func linkTarget(name, strip string) (string, error) {
	t, err := entryPath(name, "")
	if err != nil {
		return "", fmt.Errorf("it is a hardlink to %q, outside the root", name)
	}
	if strip != "" {
		rest, ok := strings.CutPrefix(t, strip+"/")
		if t == strip {
			rest, ok = ".", true
		}
		if !ok {
			return "", fmt.Errorf("it is a hardlink to %q, which is not in the archive: every entry sits under %s/", name, shownName(strip))
		}
		t = rest
	}
	if t == "." {
		return "", errors.New("it is a hardlink to the root directory")
	}
	return t, nil
}

// archiveName is how Pack and the store write a path relative to the root
// into a tar: "./bin/bash", and "./bin/" for a directory, as
// `tar -C root -cf x.tar .` does.
func archiveName(rel string, dir bool) string {
	name := "./" + rel
	if rel == "." {
		name = "./"
	} else if dir {
		name += "/"
	}
	return name
}

// rootDirNames are the directories found at the top of a root filesystem. An
// archive whose entries all sit under one of them ("usr/…" only) is a root
// with one directory, not a root wrapped in a directory, and is left alone.
var rootDirNames = map[string]bool{
	"bin": true, "boot": true, "dev": true, "etc": true, "home": true,
	"lib": true, "lib32": true, "lib64": true, "libx32": true, "media": true,
	"mnt": true, "opt": true, "proc": true, "root": true, "run": true,
	"sbin": true, "srv": true, "sys": true, "tmp": true, "usr": true, "var": true,
}

// topDirFinder decides, one entry name at a time, whether every entry of an
// archive sits under a single top-level directory, as in the walkthrough's
// `tar cvf dockercontainer.tar my-new-root`.
type topDirFinder struct {
	top      string
	topIsDir bool // the top itself appeared as a directory entry, or as a parent
	below    bool // some entry sits below the top
	mixed    bool // entries under more than one top, or a file at the top
}

func (f *topDirFinder) add(name string, isDir bool) {
	p, err := entryPath(name, "")
	if err != nil || f.mixed {
		f.mixed = true
		return
	}
	if p == "." {
		return
	}
	first, rest, nested := strings.Cut(p, "/")
	switch {
	case f.top == "":
		f.top = first
	case f.top != first:
		f.mixed = true
		return
	}
	if nested && rest != "" {
		f.below = true
		f.topIsDir = true
	} else if !isDir {
		f.mixed = true // the top is a file, a symlink…: this is a root with one entry
	} else {
		f.topIsDir = true
	}
}

// IsRootDirName reports whether name is one of the directories found at the
// top of a root filesystem (bin, usr, etc…): an archive whose entries all
// sit under it is a root with one directory, not a wrapped root.
func IsRootDirName(name string) bool { return rootDirNames[name] }

// result is the directory to strip, or "".
func (f *topDirFinder) result() string {
	if f.mixed || !f.below || !f.topIsDir || rootDirNames[f.top] {
		return ""
	}
	return f.top
}

// topDir reads an archive (tar or tar.gz) through and returns the single
// top-level directory all its entries sit under, as in an archive made
// the walkthrough's way (`tar cvf dockercontainer.tar my-new-root`), or ""
// for an archive whose entries are relative to the root. It also tells the
// number of entries, and fails as Unpack would on a truncated or corrupt
// archive, before anything is written. It stops at the next entry once ctx
// is cancelled (give it a ctxReader to stop inside a long entry too).
func topDir(ctx context.Context, r io.Reader) (top string, entries int, err error) {
	tr, _, err := Decompress(r)
	if err != nil {
		return "", 0, readError(err, "read its first bytes")
	}
	var f topDirFinder
	end := newEndMark(tr)
	t := tar.NewReader(end)
	last := ""
	for {
		if err := ctx.Err(); err != nil {
			return "", entries, fmt.Errorf("reading the archive interrupted: %w", err)
		}
		hdr, err := t.Next()
		if errors.Is(err, tar.ErrInsecurePath) {
			err = nil
		}
		if err == io.EOF {
			if err := end.atEnd(last); err != nil {
				return "", entries, err
			}
			return f.result(), entries, nil
		}
		if err != nil {
			return "", entries, headerError(err, last)
		}
		end.entry(hdr)
		if aboutTheArchive(hdr) {
			continue
		}
		entries++
		last = hdr.Name
		f.add(hdr.Name, hdr.Typeflag == tar.TypeDir)
	}
}

// shownShort is shownName for a name that may be long: its middle is cut
// out, as quoteShort does.
func shownShort(s string) string {
	if len(s) > 3*60 {
		return quoteShort(s)
	}
	return shownName(s)
}

// shownName is an entry name as a message prints it: as it is when it is
// plain text, quoted (escapes for control bytes, quotes, backslashes) when
// not. The name is the archive's to choose, and one with an escape
// sequence, a carriage return or a newline in it would otherwise recolour
// the terminal or forge a line of workshop's output.
func shownName(s string) string {
	if q := strconv.Quote(s); q != `"`+s+`"` {
		return q
	}
	return s
}
