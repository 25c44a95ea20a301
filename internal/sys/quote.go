package sys

import "strings"

// ShellQuote writes s so that a shell reads it back as one word, for the
// commands a note tells the student to type: as it is when it holds only
// characters a shell leaves alone, else in single quotes, each quote
// inside written as a closing quote, an escaped one, an opening one.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
