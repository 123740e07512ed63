package conf

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestScanKeyLinesFindsKeys(t *testing.T) {
	t.Parallel()
	const doc = `# comment with key = 1 and [table]
top = 1
[a]                       # line 3
b = """
fake = 1
[fake]
"""
c = [
  "x", # comment ]
  { inner = 1 },
]
d = { e = 1, f = { g = "}" } }
"quoted.key" = 'x'
h . i = 2
[[arr]]
j = 'multi'
[ "x y" . z ]
k = '''
 '' '''
l = true
[A]
Mixed = 1
m = 1979-05-27 07:32:00Z
n = 5
`
	kl := scanKeyLines(doc)
	tests := []struct {
		name string
		key  toml.Key
		want int
	}{
		{"finds a top-level key", toml.Key{"top"}, 2},
		{"finds a table header", toml.Key{"a"}, 3},
		{"finds a key whose value is a multi-line string", toml.Key{"a", "b"}, 4},
		{"ignores key-like text inside a multi-line string", toml.Key{"fake"}, 0},
		{"finds a key after a multi-line string", toml.Key{"a", "c"}, 8},
		{"does not record tables inside arrays", toml.Key{"inner"}, 0},
		{"finds a key after a multi-line array", toml.Key{"a", "d"}, 12},
		{"finds a key inside an inline table", toml.Key{"a", "d", "f", "g"}, 12},
		{"finds a quoted key", toml.Key{"a", "quoted.key"}, 13},
		{"finds a dotted key", toml.Key{"a", "h", "i"}, 14},
		{"finds the implicit table of a dotted key", toml.Key{"a", "h"}, 14},
		{"finds an array of tables", toml.Key{"arr"}, 15},
		{"finds a key in an array of tables", toml.Key{"arr", "j"}, 16},
		{"finds a quoted dotted header", toml.Key{"x y", "z"}, 17},
		{"finds a key after a literal multi-line string", toml.Key{"x y", "z", "l"}, 20},
		{"finds a key in the wrong case by folding", toml.Key{"a", "mixed"}, 22},
		{"finds a key after a date-time", toml.Key{"a", "n"}, 24},
		{"falls back to the nearest ancestor", toml.Key{"a", "missing"}, 3},
		{"knows nothing of an absent table", toml.Key{"absent", "x"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := kl.lineOf(tt.key); got != tt.want {
				t.Errorf("lineOf(%s) = %d, want %d", tt.key, got, tt.want)
			}
		})
	}
}

// The example must be fully understood by the scanner: every key the TOML
// library sees has a line.
func TestScanKeyLinesCoversTheExampleFile(t *testing.T) {
	t.Parallel()
	var raw map[string]any
	md, err := toml.DecodeFile(exampleFile, &raw)
	if err != nil {
		t.Fatal(err)
	}
	data := mustRead(t, exampleFile)
	kl := scanKeyLines(data)
	for _, key := range md.Keys() {
		if _, ok := kl.exact[key.String()]; !ok {
			t.Errorf("no line for %s", key)
		}
	}
}

func TestScanKeyLinesStopsAtDeepNesting(t *testing.T) {
	t.Parallel()
	doc := "a = " + strings.Repeat("[", 100000) + "\nb = 1\n"
	kl := scanKeyLines(doc)
	if kl.exact["a"] != 1 {
		t.Errorf("line of a = %d, want 1", kl.exact["a"])
	}
	if line, ok := kl.exact["b"]; ok {
		t.Errorf("found b at line %d after giving up on the nesting", line)
	}
}
