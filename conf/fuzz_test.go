package conf

import (
	"errors"
	"os"
	"testing"
)

func mustRead(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// FuzzLoad feeds arbitrary bytes to the loader as the content of a config
// file: it must never panic, and it either reports problems, each an *Error
// naming the file, or returns a config that Validate accepts.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(mustRead(f, exampleFile)))
	for _, seed := range []string{
		"",
		"pin_length = 6\n[store]\ntimeout = 30\n",
		"[services]\nvpn = { class = \"vpn\" }\n[policy.off]\nvpn = 3\n",
		"[[services]]\nclass = 1\n[Radius]\nx.y = [1, {a = 2}]\n",
		"a = \"\"\"\n[b]\n\"\"\"\n'c d'.e = '''x'''\n",
		"store.Timeout = \"1h\"\nstore = 1\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		scanKeyLines(string(data)) // also on input the library rejects
		c, err := parse("fuzz.toml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %#v is not a non-empty Errors", err)
			}
			for _, e := range errs {
				if pe, ok := e.(*Error); !ok || pe.File != "fuzz.toml" || pe.Message == "" {
					t.Fatalf("problem %#v is not an *Error naming fuzz.toml", e)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parse accepted a config that Validate rejects: %v", err)
		}
	})
}
