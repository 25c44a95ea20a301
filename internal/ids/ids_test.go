package ids

import "testing"

func TestNewIsValidAndFresh(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if !Valid(id) {
			t.Fatalf("New() = %q, not %d lower-case hex digits", id, Len)
		}
		if seen[id] {
			t.Fatalf("New() returned %q twice in 1000 calls", id)
		}
		seen[id] = true
	}
}

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"3f9a1c0b7e42", true},
		{"3F9A1C0B7E42", false},
		{"3f9a1c0b7e4", false},
		{"3f9a1c0b7e42a", false},
		{"3f9a1c0b7e4g", false},
		{"", false},
	} {
		if got := Valid(tc.in); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
