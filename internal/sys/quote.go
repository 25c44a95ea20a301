package sys

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// OneLine is a sentence as a terminal should get it: its control
// characters (a newline, a carriage return, an escape sequence's ESC, any
// other below space, DEL and the C1 controls) and bytes that are not UTF-8
// written as escapes (\n, \r, \x1b). A note or an error names files, and
// the names are a root's or an archive's to choose: raw, one could
// recolour the terminal or forge a line of workshop's own. Tabs stay, and
// newlines at the end go (another program's stderr, quoted in an error,
// ends with one). So are the invisible characters that reorder or hide
// text (right-to-left overrides, zero-width spaces, line separators,
// written \u202e): a name "invoice\u202efdp.exe" shows as invoiceexe.pdf.
func OneLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if !strings.ContainsFunc(s, isControl) && !strings.ContainsFunc(s, Invisible) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case isControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case Invisible(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// Invisible reports whether r is a character a terminal does not show as
// itself but obeys: a format character (bidirectional overrides and
// isolates, zero-width spaces and joiners, the byte order mark) or a line
// or paragraph separator.
func Invisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

func isControl(r rune) bool {
	return r != '\t' && (r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0)
}

// CharAt names the character that begins at s[i] for a refusal: quoted
// whole where it is valid UTF-8 ('é', and a written U+FFFD as itself),
// else as the byte it is (0xff).
func CharAt(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("the byte %#02x", s[i])
	}
	return fmt.Sprintf("%q", r)
}
