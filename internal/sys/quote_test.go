package sys

import "testing"

func TestShellQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/var/lib/workshop/my-new-root", "/var/lib/workshop/my-new-root"},
		{"/tmp/my root", "'/tmp/my root'"},
		{"/tmp/it's", `'/tmp/it'\''s'`},
		{"/tmp/$HOME;rm", "'/tmp/$HOME;rm'"},
		{"", "''"},
	} {
		if got := ShellQuote(tc.in); got != tc.want {
			t.Errorf("ShellQuote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
