package ldapsrv

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	ber "github.com/nmcclain/asn1-ber"
)

// FuzzGuard checks the message validator: it never panics, and whatever
// it accepts (with controls stripped, as the library gets it) the
// library's BER reader parses without error or panic.
func FuzzGuard(f *testing.F) {
	for _, s := range []string{
		"300c020101600702010304008000",
		strings.ReplaceAll(ldapsearchMM, " ", ""),
		"30050207010000",
		"3084 7fffffff",
		"30 13 02 01 01 60 07 02 01 03 04 00 80 00 a0 05 30 03 02 01 01",
		"3006020101500105",
		"30050201024200",
		"301d02010177188016312e332e362e312e342e312e343230332e312e31312e33",
	} {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(nested(40))
	f.Fuzz(func(t *testing.T, data []byte) {
		frame, err := readFrame(bytes.NewReader(data), 16<<10, nil)
		if err != nil {
			return
		}
		m, err := parseMessage(frame, 32)
		if err != nil {
			return
		}
		_, _, _ = findPaging(m)
		if m.op.ident == opSearchRequest {
			if req, err := decodeSearch(m.op); err == nil {
				req.filter.match(entry{attrs: []attribute{{name: "uid", canon: "uid", vals: []string{"x"}}}})
			}
		}
		stripped := m.withoutControls()
		if _, err := parseMessage(stripped, 32); err != nil {
			t.Fatalf("stripped message no longer valid: %v", err)
		}
		if _, err := ber.ReadPacket(bytes.NewReader(stripped)); err != nil {
			t.Fatalf("library rejects a message the guard accepted: %v", err)
		}
	})
}

func TestDN(t *testing.T) {
	t.Parallel()
	t.Run("escapes RFC 4514 specials and round-trips them", func(t *testing.T) {
		t.Parallel()
		for _, v := range []string{`a,b`, `#lead`, ` lead`, `trail `, `q"+;<>=\`, "nul\x00", "ümlaut@example.org"} {
			dn := "uid=" + escapeDNValue(v) + ",dc=x"
			rdns, err := parseDN(dn)
			if err != nil || len(rdns) != 2 || rdns[0].val != v {
				t.Fatalf("%q -> %q -> %+v, %v", v, dn, rdns, err)
			}
		}
	})
	t.Run("refuses malformed DNs", func(t *testing.T) {
		t.Parallel()
		for _, dn := range []string{"uid", "=x", "uid=", "uid=a,", "uid=a+cn=b", `uid=a\`, `uid=a\zz`, "uid=#04", "u id=a", "uid=a;dc=x"} {
			if _, err := parseDN(dn); err == nil {
				t.Fatalf("parseDN(%q) succeeded", dn)
			}
		}
	})
	t.Run("refuses templates without {user} first", func(t *testing.T) {
		t.Parallel()
		for _, tpl := range []string{"ou=people,dc=x", "ou=people,uid={user},dc=x", "uid={user}"} {
			if _, err := parseTemplate(tpl); err == nil {
				t.Fatalf("parseTemplate(%q) succeeded", tpl)
			}
		}
	})
}
