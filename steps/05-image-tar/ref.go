package imagetar

import (
	"fmt"
	"strings"
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
	if !validName(name) {
		return Ref{}, fmt.Errorf("%s is not an image name: use lower-case letters, digits and . _ - (and / between parts), e.g. demo or demo:1", quoteShort(s))
	}
	if idPrefix(name) != "" {
		return Ref{}, fmt.Errorf("%s cannot be an image name: 12 or 64 hex digits are how an image's id is written", quoteShort(s))
	}
	if !validTag(tag) {
		if len(tag) > 128 {
			return Ref{}, fmt.Errorf("%s has a tag of %d characters: a tag has at most 128, e.g. demo:1", quoteShort(s), len(tag))
		}
		return Ref{}, fmt.Errorf("%q has a bad tag %q: use letters, digits, _ . and - (up to 128), e.g. demo:1", s, tag)
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
func validName(s string) bool {
	for _, part := range strings.Split(s, "/") {
		if part == "" || !lowerAlnum(part[0]) || !lowerAlnum(part[len(part)-1]) {
			return false
		}
		for i := 0; i < len(part); i++ {
			if c := part[i]; !lowerAlnum(c) && c != '.' && c != '_' && c != '-' {
				return false
			}
		}
	}
	return true
}

// validTag: 1 to 128 letters, digits, _ . -, the first not . or -.
func validTag(s string) bool {
	if len(s) == 0 || len(s) > 128 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func lowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
