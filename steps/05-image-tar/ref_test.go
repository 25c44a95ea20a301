package imagetar

import (
	"regexp"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// The rules of ref.go as regular expressions (Docker's, without
// registries): the hand-written checks must agree with them.
var (
	nameRE = regexp.MustCompile(`^[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*$`)
	tagRE  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	idRE   = regexp.MustCompile(`^(?:sha256:)?([0-9a-f]{12}|[0-9a-f]{64})$`)
)

func checkRefRules(t *testing.T, s string) {
	t.Helper()
	if got, want := validName(s), nameRE.MatchString(s); got != want {
		t.Errorf("validName(%q) = %v, the expression says %v", s, got, want)
	}
	if got, want := validTag(s), tagRE.MatchString(s); got != want {
		t.Errorf("validTag(%q) = %v, the expression says %v", s, got, want)
	}
	want := ""
	if m := idRE.FindStringSubmatch(s); m != nil {
		want = m[1]
	}
	if got := idPrefix(s); got != want {
		t.Errorf("idPrefix(%q) = %q, the expression says %q", s, got, want)
	}
}

func TestRefRulesAgreeWithExpressions(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	for _, s := range []string{
		"", "a", "A", "0", "_", ".", "-", "/", "a/", "/a", "a//b", "a/b", "a.b", "a..b", "a._-b", "a.", ".a", "-a", "a-",
		"my-app/web", "demo", "Demo", "a b", "../x", "x/..", "_a", "a_", "v1.2", "latest",
		strings.Repeat("a", 128), strings.Repeat("a", 129), "_" + strings.Repeat("a", 127),
		hex64[:12], hex64[:11], hex64[:13], hex64, hex64 + "0", "sha256:" + hex64[:12], "sha256:" + hex64, "sha256:",
		"sha256:" + strings.ToUpper(hex64[:12]), "sha256:sha256:" + hex64[:12], hex64[:12] + "\n", "a\n", "é",
	} {
		checkRefRules(t, s)
	}
	// And random strings over the alphabet that matters.
	for _, s := range testbin.RandomStrings(1, "ab09AZ._-/:sha256\n", 16, 20000) {
		checkRefRules(t, s)
	}
}

// A refused name or tag says which rule it breaks, not only what is
// allowed: ".hidden", "a//b" and ":tag" each read as plausible names.
func TestParseRefSaysWhichRule(t *testing.T) {
	for _, tc := range []struct{ ref, want string }{
		{".hidden", `".hidden" begins or ends with . _ or -`},
		{"a/../b", `".." begins or ends with . _ or -`},
		{"web_", `"web_" begins or ends with . _ or -`},
		{"a//b", "a part between slashes is empty"},
		{"/a", "a part between slashes is empty"},
		{"a/", "a part between slashes is empty"},
		{":tag", "it has no name before the tag"},
		{"Demo:1", `names are lower-case ("demo:1" would do)`},
		{"My_App/X", `names are lower-case ("my_app/x" would do)`},
		{"x:y:z", "a : may only begin the tag, after the name's last part"},
		{"localhost:5000/demo", "a : may only begin the tag, after the name's last part (no registry's host:port)"},
		{"héllo", `it holds 'é', which a name may not`},
		{"a b", `it holds ' ', which a name may not`},
		{"a\xffb", "it holds the byte 0xff, which a name may not"},
		{"a:", "nothing follows the :"},
		{"a:-x", "a tag may not begin with -"},
		{"a:.x", "a tag may not begin with ."},
		{"a:x!", "it holds '!', which a tag may not"},
	} {
		_, err := ParseRef(tc.ref)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRef(%q) = %v, want an error saying %q", tc.ref, err, tc.want)
		}
	}
	// The upper-case advice is given only where lowering is enough: not
	// where the name, the tag or the rule against ids refuses it still.
	for _, ref := range []string{"A.", "Demo:-x", "Demo:.x", "ABCDEF012345:1"} {
		if _, err := ParseRef(ref); err == nil || strings.Contains(err.Error(), "would do") {
			t.Errorf(`ParseRef(%q) = %v, want a refusal without a suggestion that would be refused too`, ref, err)
		}
	}
}

// A tag has at most 128 characters, Docker's rule: one of 128 is taken,
// one of 129 refused with the length said. Without this, a limit off by
// one would take a tag `docker tag` refuses, and the rules of ref.go would
// no longer be Docker's.
func TestParseRefTagLength(t *testing.T) {
	ok := "demo:" + strings.Repeat("a", 128)
	if r, err := ParseRef(ok); err != nil || r.Tag != strings.Repeat("a", 128) {
		t.Errorf("ParseRef(demo:<128 a>) = %+v, %v; want it taken", r, err)
	}
	_, err := ParseRef("demo:" + strings.Repeat("a", 129))
	if want := "has a tag of 129 characters: a tag has at most 128"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ParseRef(demo:<129 a>) = %v, want an error saying %q", err, want)
	}
}
