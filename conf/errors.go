package conf

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// defaultsFile is the file name that errors about the built-in defaults
// carry.
const defaultsFile = "(defaults)"

// Error is one config problem. Its text is "file:line: key: message"; the
// line is left out when unknown (0), the key when the problem concerns no
// single key (a syntax error before the first key).
type Error struct {
	File    string // path of the config file, or "(defaults)"
	Line    int    // 1-based line, 0 when unknown
	Key     string // full dotted key path, e.g. "services.vpn.class"
	Message string // lower-case explanation
}

// Error formats e as "file:line: key: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// Errors is every problem found in one config, ordered by line; problems
// without a line come last, in the order of the config's fields. Its elements are *[Error]; [errors.As] finds
// them through Unwrap.
type Errors []error

// Error returns one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the individual problems.
func (es Errors) Unwrap() []error { return es }

// orNil returns es sorted as documented, or nil when there is no problem, so
// that callers never see a non-nil error holding an empty list.
func (es Errors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	slices.SortStableFunc(es, compareErrors)
	return es
}

func compareErrors(a, b error) int {
	ea, oka := a.(*Error)
	eb, okb := b.(*Error)
	if !oka || !okb {
		return 0
	}
	switch {
	case ea.Line == 0 && eb.Line == 0:
		return 0 // keep the order of the checks
	case ea.Line == 0:
		return 1
	case eb.Line == 0:
		return -1
	}
	return cmp.Or(cmp.Compare(ea.Line, eb.Line), cmp.Compare(ea.Key, eb.Key),
		cmp.Compare(ea.Message, eb.Message))
}
