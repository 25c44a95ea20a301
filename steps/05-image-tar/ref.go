package imagetar

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// DefaultTag is the tag of a reference written without one, as in Docker.
const DefaultTag = "latest"

// Docker's rules for names and tags, without registries: lower-case parts
// joined by . _ - and /; a tag of up to 128 letters, digits, _ . -.
// They are compiled on first use, not at start: every workshop process runs
// this package's initialisation, the container's re-executed init too, and
// compiling them there cost a third of a millisecond of each run's start.
var (
	nameRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*$`)
	})
	tagRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`) })
	idRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:sha256:)?([0-9a-f]{12}|[0-9a-f]{64})$`) })
)

// Ref is an image reference: NAME:TAG.
type Ref struct{ Name, Tag string }

func (r Ref) String() string { return r.Name + ":" + r.Tag }

// ParseRef reads NAME[:TAG]; the tag defaults to latest.
func ParseRef(s string) (Ref, error) {
	name, tag := s, DefaultTag
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		name, tag = s[:i], s[i+1:]
	}
	if !nameRE().MatchString(name) {
		return Ref{}, fmt.Errorf("%q is not an image name: use lower-case letters, digits and . _ - (and / between parts), e.g. demo or demo:1", s)
	}
	if !tagRE().MatchString(tag) {
		return Ref{}, fmt.Errorf("%q has a bad tag %q: use letters, digits, _ . and - (up to 128), e.g. demo:1", s, tag)
	}
	return Ref{Name: name, Tag: tag}, nil
}

// idPrefix returns the hex of an image id written as 12 or 64 hex digits
// (with or without "sha256:"), or "".
func idPrefix(s string) string {
	m := idRE().FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}
