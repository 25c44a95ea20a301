package imagetar

import (
	"fmt"
	"strings"

	"github.com/workshop-dev/workshop/internal/sys"
)

// DefaultTag is the tag of a reference written without one, as in Docker.
const DefaultTag = "latest"

// Docker's rules for names and tags, without registries: lower-case parts
// joined by . _ - and /; a tag of up to 128 letters, digits, _ . -. They
// are checked by hand, not with regular expressions: compiling those cost a
// third of a millisecond of every `full run` (ref_test.go holds the
// expressions and checks that these functions agree with them).

// maxNameLen is Docker's bound on a repository name.
const maxNameLen = 255

// Ref is an image reference: NAME:TAG.
type Ref struct{ Name, Tag string }

func (r Ref) String() string { return r.Name + ":" + r.Tag }

// ParseRef reads NAME[:TAG]; the tag defaults to latest.
func ParseRef(s string) (Ref, error) {
	name, tag := s, DefaultTag
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		name, tag = s[:i], s[i+1:]
	}
	// Quoted short (quoteShort): a name of kilobytes is not said whole.
	if len(name) > maxNameLen {
		return Ref{}, fmt.Errorf("%s is not an image name: a name has at most %d characters", quoteShort(s), maxNameLen)
	}
	if fault := nameFault(name); fault != "" {
		// The name lowered is suggested where that is enough, and short
		// enough to say whole (the refusal quotes the name given already).
		// Only where the whole reference lowered is taken (its tag, and
		// the rule against ids, too).
		if lower := strings.ToLower(name) + s[len(name):]; fault == "names are lower-case" && len(s) <= 60 {
			if _, err := ParseRef(lower); err == nil {
				fault += fmt.Sprintf(" (%s would do)", quoteShort(lower))
			}
		}
		return Ref{}, fmt.Errorf("%s is not an image name: %s; use lower-case letters, digits and . _ - (and / between parts), e.g. demo or demo:1", quoteShort(s), fault)
	}
	if idPrefix(name) != "" {
		return Ref{}, fmt.Errorf("%s cannot be an image name: 12 or 64 hex digits are how an image's id is written", quoteShort(s))
	}
	if len(tag) > 128 {
		return Ref{}, fmt.Errorf("%s has a tag of %d characters: a tag has at most 128, e.g. demo:1", quoteShort(s), len(tag))
	}
	if fault := tagFault(tag); fault != "" {
		return Ref{}, fmt.Errorf("%q has a bad tag %q: %s; use letters, digits, _ . and - (up to 128), e.g. demo:1", s, tag, fault)
	}
	return Ref{Name: name, Tag: tag}, nil
}

// idPrefix returns the hex of an image id written as 12 or 64 hex digits
// (with or without "sha256:"), or "".
func idPrefix(s string) string {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) != 12 && len(s) != 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return ""
		}
	}
	return s
}

// validName: parts separated by /, each of lower-case letters and digits,
// with runs of . _ - only between them.
func validName(s string) bool { return nameFault(s) == "" }

// nameFault says which of validName's rules s breaks first, or "" when it
// keeps them all: a refusal that only listed the allowed characters left
// the student to find what was wrong with ".hidden" or "a//b".
func nameFault(s string) string {
	if s == "" {
		return "it has no name before the tag"
	}
	for _, part := range strings.Split(s, "/") {
		if part == "" {
			return "a part between slashes is empty (no / at the start or end, none doubled)"
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			switch {
			case lowerAlnum(c):
			case c >= 'A' && c <= 'Z':
				return "names are lower-case"
			case c == ':':
				// x:y:z, or a registry's host:port (localhost:5000/demo):
				// only the tag follows a :, after the name's last /.
				return "a : may only begin the tag, after the name's last part (no registry's host:port)"
			case c != '.' && c != '_' && c != '-':
				return fmt.Sprintf("it holds %s, which a name may not", sys.CharAt(part, i))
			}
		}
		if !lowerAlnum(part[0]) || !lowerAlnum(part[len(part)-1]) {
			return fmt.Sprintf("%s begins or ends with . _ or -, which go only between letters and digits", quoteShort(part))
		}
	}
	return ""
}

// validTag: 1 to 128 letters, digits, _ . -, the first not . or -.
func validTag(s string) bool { return len(s) <= 128 && tagFault(s) == "" }

// tagFault says which of validTag's rules (but its length) s breaks first,
// or "".
func tagFault(s string) string {
	if s == "" {
		return "nothing follows the :"
	}
	if s[0] == '.' || s[0] == '-' {
		return fmt.Sprintf("a tag may not begin with %c", s[0])
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Sprintf("it holds %s, which a tag may not", sys.CharAt(s, i))
		}
	}
	return ""
}

func lowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
