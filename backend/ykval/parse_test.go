package ykval

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestParseResponseRejectsMalformedBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
	}{
		{name: "rejects an empty body", body: ""},
		{name: "rejects only an empty line", body: "\r\n"},
		{name: "rejects bare LF line ends", body: "status=OK\n"},
		{name: "rejects a last line without CRLF", body: "t=1\r\nstatus=OK"},
		{name: "rejects a line without '='", body: "status\r\n"},
		{name: "rejects an empty key", body: "=OK\r\n"},
		{name: "rejects an upper-case key", body: "Status=OK\r\n"},
		{name: "rejects a key with a digit", body: "st4tus=OK\r\n"},
		{name: "rejects a 33-letter key", body: strings.Repeat("k", 33) + "=v\r\n"},
		{name: "rejects a space in a value", body: "status=O K\r\n"},
		{name: "rejects a control byte in a value", body: "status=OK\x00\r\n"},
		{name: "rejects a bare CR in a value", body: "status=OK\rx\r\n"},
		{name: "rejects a non-ASCII value", body: "status=ÖK\r\n"},
		{name: "rejects a repeated key", body: "status=OK\r\nstatus=BAD_OTP\r\n"},
		{name: "rejects data after the empty line", body: "status=OK\r\n\r\nstatus=OK\r\n"},
		{name: "rejects a body over the size limit", body: "status=OK\r\nx=" + strings.Repeat("v", MaxResponseSize) + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if fields, err := ParseResponse([]byte(tt.body)); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseResponse = %v, %v; want ErrMalformed", fields, err)
			}
		})
	}
}

func TestParseResponseAcceptsTheReferenceShapes(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		"h=abc=\r\nstatus=OK\r\n\r\n",
		"h=abc=\r\nstatus=OK\r\n",
		"h=abc=\r\nstatus=OK\r\n\r\n\r\n",
		"h=\r\nstatus=OK\r\n",
	} {
		fields, err := ParseResponse([]byte(body))
		if err != nil || fields["status"] != "OK" || len(fields) != 2 {
			t.Errorf("ParseResponse(%q) = %v, %v", body, fields, err)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, c := range loadVectors(f) {
		if c.Kind == "response" {
			f.Add([]byte(c.ResponseText))
		}
	}
	f.Add([]byte("status=OK\r\n\r\nx"))
	f.Fuzz(func(t *testing.T, body []byte) {
		fields, err := ParseResponse(body)
		if err != nil {
			if fields != nil {
				t.Fatal("fields returned with an error")
			}
			return
		}
		// Re-serialising the fields must parse back to the same map.
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			b.WriteString(k + "=" + fields[k] + "\r\n")
		}
		again, err := ParseResponse([]byte(b.String()))
		if err != nil || !maps.Equal(again, fields) {
			t.Fatalf("round trip: %v, %v vs %v", err, again, fields)
		}
		_ = VerifySignature(nil, fields, fields["h"])
	})
}
