package stracecheck

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/workshop-dev/workshop/internal/sys"
)

// A Call is one syscall, from either side: a narrated line or a strace record.
type Call struct {
	Name string
	// Str is the first string argument ("" when there is none), unescaped
	// to raw bytes; Cut says it was shown cut short ("…"...), so only its
	// start is known.
	Str    string
	HasStr bool
	Cut    bool
	// Errno is "" for success, else the errno's name (ENOENT).
	Errno string
	// Flags are the names in a flags=A|B|C argument (clone), if any.
	Flags []string
	// Detail is what tells apart calls with no string argument that a Go
	// program makes many of (rt_sigaction: the signal, the new handler's
	// kind, whether the old one was asked for); "" when not worked out.
	Detail string
	// Line is the text it came from, for messages.
	Line string
}

// A Narrated call also says which narrating process printed it: "" for the
// parent, "[pid N]" for a child.
type Narrated struct {
	Call
	Group string
}

var (
	ansi       = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	narratedRe = regexp.MustCompile(`^(\[pid \d+\] )?([a-z_][a-z0-9_]*)\((.*)\) = (.*)$`)
	flagsRe    = regexp.MustCompile(`flags=([A-Z0-9_|]+)`)
)

// ParseNarration returns the syscall lines of a narration (what workshop
// printed on stderr), in order. Commentary ("==> …"), tables, the
// command's own output and the lesson printed first under --explain
// (framed by sys.LessonBegins and sys.LessonEnds: its transcripts are of
// another run) are not this run's syscall lines and are skipped.
func ParseNarration(text string) []Narrated {
	var calls []Narrated
	inLesson := false
	for _, line := range strings.Split(text, "\n") {
		line = ansi.ReplaceAllString(strings.TrimRight(line, "\r"), "")
		switch {
		case strings.HasPrefix(line, "==> "+sys.LessonBegins):
			inLesson = true
		case strings.HasPrefix(line, "==> "+sys.LessonEnds):
			inLesson = false
		}
		if inLesson || strings.HasPrefix(line, "==> ") {
			continue
		}
		m := narratedRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		res, _, _ := strings.Cut(m[4], "  # ") // the gloss of --explain
		c := Call{Name: m[2], Line: line, Errno: errnoOf(res)}
		c.Str, c.HasStr, c.Cut = firstString(m[3], unquoteGo)
		c.Flags = flagsOf(m[3])
		c.Detail = detailOf(c.Name, m[3])
		calls = append(calls, Narrated{Call: c, Group: strings.TrimSpace(m[1])})
	}
	return calls
}

// A Record is one completed syscall in strace's log, with the thread that
// made it.
type Record struct {
	Call
	Tid int
	// Ret is the raw return value (the new tid of a clone), as the caller
	// saw it, or as strace's PID namespace sees it when it says so.
	Ret int64
}

var (
	pidPrefix  = regexp.MustCompile(`^(?:\[pid\s+(\d+)\] |(\d+)\s+)`)
	callStart  = regexp.MustCompile(`^([a-z_][a-z0-9_]*)\(`)
	resumed    = regexp.MustCompile(`^<\.\.\. ([a-z_][a-z0-9_]*) resumed>`)
	translated = regexp.MustCompile(`/\* (\d+) in strace's PID NS \*/`)
	unfinished = regexp.MustCompile(` <(?:unfinished|pid changed to (\d+)) \.\.\.>$`)
)

// ParseStrace reads a log of strace -f (with -o FILE or on stderr), joins
// "<unfinished ...>" calls with their "<... resumed>" ends, and returns the
// completed calls in the order they completed. The first thread seen is
// reported as root.
func ParseStrace(log string) (records []Record, root int) {
	pending := map[int]string{} // tid -> start of an unfinished call
	for _, line := range strings.Split(log, "\n") {
		m := pidPrefix.FindStringSubmatch(line)
		tid := 0
		if m != nil {
			s := m[1]
			if s == "" {
				s = m[2]
			}
			tid, _ = strconv.Atoi(s)
			line = line[len(m[0]):]
		}
		if root == 0 && tid != 0 {
			root = tid
		}
		if u := unfinished.FindStringSubmatchIndex(line); u != nil {
			// "<pid changed to N ...>": a thread other than the leader
			// called execve; the kernel gives it the leader's id N, under
			// which strace shows the call end.
			if u[2] >= 0 {
				tid, _ = strconv.Atoi(line[u[2]:u[3]])
			}
			pending[tid] = line[:u[0]]
			continue
		}
		if r := resumed.FindStringSubmatch(line); r != nil {
			from := tid
			start, ok := pending[tid]
			if !ok && (r[1] == "execve" || r[1] == "execveat") {
				// A thread other than the leader called execve: the kernel
				// gives it the leader's id, so the call ends under another
				// tid than it began (strace: "superseded by execve").
				from, start, ok = pendingExec(pending, r[1])
			}
			if !ok {
				continue
			}
			delete(pending, from)
			line = start + line[len(r[0]):]
		}
		rec, ok := parseRecord(line)
		if !ok {
			continue
		}
		rec.Tid = tid
		records = append(records, rec)
	}
	return records, root
}

// pendingExec finds the unfinished execve of another thread.
func pendingExec(pending map[int]string, name string) (int, string, bool) {
	for tid, start := range pending {
		if strings.HasPrefix(start, name+"(") {
			return tid, start, true
		}
	}
	return 0, "", false
}

// parseRecord reads "name(args) = result" as strace prints it.
func parseRecord(line string) (Record, bool) {
	m := callStart.FindStringSubmatch(line)
	if m == nil {
		return Record{}, false
	}
	// The result follows the last ") = ", padded with spaces by strace.
	end := -1
	for i := strings.LastIndex(line, " = "); i > 0; i = strings.LastIndex(line[:i], " = ") {
		if strings.HasSuffix(strings.TrimRight(line[:i], " "), ")") {
			end = i
			break
		}
	}
	if end < 0 {
		return Record{}, false
	}
	head := strings.TrimRight(line[:end], " ")
	args := head[len(m[0]) : len(head)-1]
	res := strings.TrimSpace(line[end+3:])
	if strings.HasPrefix(res, "? ERESTART") {
		// Interrupted by a signal and made again by the kernel, which
		// strace logs once more with its real result: this attempt is
		// no call of its own (Go's pidfd probe clones with signals
		// unblocked, and a preempting SIGURG restarts it).
		return Record{}, false
	}
	rec := Record{Call: Call{Name: m[1], Line: line, Errno: errnoOf(res)}}
	rec.Str, rec.HasStr, rec.Cut = firstString(args, unquoteC)
	rec.Flags = flagsOf(args)
	rec.Detail = detailOf(rec.Name, args)
	if t := translated.FindStringSubmatch(res); t != nil {
		rec.Ret, _ = strconv.ParseInt(t[1], 10, 64)
	} else if f := strings.Fields(res); len(f) > 0 {
		rec.Ret, _ = strconv.ParseInt(f[0], 0, 64)
	}
	return rec, true
}

// errnoOf returns the errno name of a result ("-1 ENOENT (…)"), "?" for a
// failure without one, or "" for success. A result strace could not know
// ("= ?", an execve that ended the process) counts as success.
func errnoOf(res string) string {
	f := strings.Fields(res)
	if len(f) == 0 || f[0] != "-1" {
		return ""
	}
	if len(f) >= 2 && strings.HasPrefix(f[1], "E") {
		return f[1]
	}
	return "?"
}

// detailOf works out Call.Detail. For rt_sigaction(SIG, ACT, OLDACT, 8):
// "SIG DFL|IGN|handler|NULL set|NULL", the kind of ACT's sa_handler (a
// handler's address, which strace prints and the narration names, is just
// "handler") and whether OLDACT was given.
func detailOf(name, args string) string {
	if name != "rt_sigaction" {
		return ""
	}
	a := topLevel(args)
	if len(a) < 3 {
		return ""
	}
	act := "handler"
	switch {
	case a[1] == "NULL":
		act = "NULL"
	case strings.HasPrefix(a[1], "{sa_handler=SIG_DFL"):
		act = "DFL"
	case strings.HasPrefix(a[1], "{sa_handler=SIG_IGN"):
		act = "IGN"
	}
	old := "set"
	if a[2] == "NULL" {
		old = "NULL"
	}
	return a[0] + " " + act + " " + old
}

// topLevel splits a call's arguments at the commas outside braces,
// brackets and parentheses.
func topLevel(args string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range args {
		switch r {
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, strings.TrimSpace(args[start:i]))
				start = i + 1
			}
		}
	}
	return append(parts, strings.TrimSpace(args[start:]))
}

func flagsOf(args string) []string {
	m := flagsRe.FindStringSubmatch(args)
	if m == nil {
		return nil
	}
	return strings.Split(m[1], "|")
}

// firstString finds the first quoted string in args and unescapes it.
func firstString(args string, unquote func(string) (string, error)) (s string, ok, cut bool) {
	start := strings.IndexByte(args, '"')
	if start < 0 {
		return "", false, false
	}
	i := start + 1
	for ; i < len(args); i++ {
		if args[i] == '\\' {
			i++
			continue
		}
		if args[i] == '"' {
			break
		}
	}
	if i >= len(args) {
		return "", false, false
	}
	s, err := unquote(args[start : i+1])
	if err != nil {
		return args[start : i+1], true, false
	}
	return s, true, strings.HasPrefix(args[i+1:], "...")
}

func unquoteGo(q string) (string, error) { return strconv.Unquote(q) }

// unquoteC undoes strace's C escapes: \n \t \" \\ \NNN (octal, 1-3 digits)
// and \xNN.
func unquoteC(q string) (string, error) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return "", fmt.Errorf("not a quoted string: %s", q)
	}
	in := q[1 : len(q)-1]
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' || i+1 == len(in) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := in[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'v':
			b.WriteByte('\v')
		case 'f':
			b.WriteByte('\f')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'x':
			j := i + 1
			for j < len(in) && j < i+3 && isHex(in[j]) {
				j++
			}
			v, err := strconv.ParseUint(in[i+1:j], 16, 8)
			if err != nil {
				return "", err
			}
			b.WriteByte(byte(v))
			i = j - 1
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(in) && j < i+3 && in[j] >= '0' && in[j] <= '7' {
				j++
			}
			v, err := strconv.ParseUint(in[i:j], 8, 8)
			if err != nil {
				return "", err
			}
			b.WriteByte(byte(v))
			i = j - 1
		default:
			b.WriteByte(e)
		}
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
