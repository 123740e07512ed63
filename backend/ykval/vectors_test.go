package ykval

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// vectorCase is one case of testdata/vectors/ykval2.json.
type vectorCase struct {
	Kind                   string            `json:"kind"`
	Name                   string            `json:"name"`
	APIID                  string            `json:"api_id"`
	APIKeyB64              string            `json:"api_key_b64"`
	APIKeyHex              string            `json:"api_key_hex"`
	Params                 map[string]string `json:"params"`
	SigningString          string            `json:"signing_string"`
	H                      string            `json:"h"`
	HURLEncoded            string            `json:"h_urlencoded"`
	QueryString            string            `json:"query_string"`
	Status                 Status            `json:"status"`
	ResponseText           string            `json:"response_text"`
	SignatureValid         bool              `json:"signature_valid"`
	HExpectedForTheseParam string            `json:"h_expected_for_these_params"`
}

func loadVectors(t testing.TB) []vectorCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vectors", "ykval2.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []vectorCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) != 23 {
		t.Fatalf("ykval2.json has %d cases, want 23", len(file.Cases))
	}
	return file.Cases
}

// apiKey decodes the case's key and checks it against the hex form.
func (c vectorCase) apiKey(t testing.TB) []byte {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(c.APIKeyB64)
	if err != nil || hex.EncodeToString(key) != c.APIKeyHex {
		t.Fatalf("api key %q does not decode to %s: %v", c.APIKeyB64, c.APIKeyHex, err)
	}
	return key
}

func TestRequestVectorsSignAndEncodeExactly(t *testing.T) {
	t.Parallel()
	for _, c := range loadVectors(t) {
		if c.Kind != "request" {
			continue
		}
		t.Run("signs "+c.Name, func(t *testing.T) {
			t.Parallel()
			key := c.apiKey(t)
			if got := signingString(c.Params); got != c.SigningString {
				t.Errorf("signing string %q, want %q", got, c.SigningString)
			}
			if got := Sign(key, c.Params); got != c.H {
				t.Errorf("Sign = %s, want %s", got, c.H)
			}
			if !VerifySignature(key, c.Params, c.H) {
				t.Error("VerifySignature rejects the vector")
			}
			if got := EncodeRequest(key, c.Params); got != c.QueryString {
				t.Errorf("EncodeRequest = %s, want %s", got, c.QueryString)
			}
			params, status := parseRequest(c.QueryString)
			if status != "" || params["h"] != c.H || params["id"] != c.APIID {
				t.Errorf("server parses the query as %v, %q", params, status)
			}
		})
	}
}

func TestResponseVectorsParseAndVerify(t *testing.T) {
	t.Parallel()
	for _, c := range loadVectors(t) {
		if c.Kind != "response" {
			continue
		}
		t.Run("parses and verifies "+c.Name, func(t *testing.T) {
			t.Parallel()
			key := c.apiKey(t)
			fields, err := ParseResponse([]byte(c.ResponseText))
			if err != nil {
				t.Fatalf("ParseResponse: %v", err)
			}
			want := maps.Clone(c.Params)
			want["h"] = c.H
			if !maps.Equal(fields, want) {
				t.Errorf("fields %v, want %v", fields, want)
			}
			if got := signingString(fields); got != c.SigningString {
				t.Errorf("signing string %q, want %q", got, c.SigningString)
			}
			if got := VerifySignature(key, fields, fields["h"]); got != c.SignatureValid {
				t.Errorf("VerifySignature = %v, want %v", got, c.SignatureValid)
			}
			if c.HExpectedForTheseParam != "" && Sign(key, fields) != c.HExpectedForTheseParam {
				t.Errorf("Sign = %s, want %s", Sign(key, fields), c.HExpectedForTheseParam)
			}
		})
	}
}

// clientTrusts says which response vectors a client holding the case's key
// takes as a decision or a configuration report; the rest are ignored.
var clientTrusts = map[string]bool{
	"yubico-installation-doc-no-such-client": true,  // configuration report: signature not needed
	"ok-basic":                               true,  //
	"ok-basic-tampered":                      false, // status changed, h kept
	"ok-with-timestamp":                      true,  //
	"replayed-otp":                           true,  //
	"replayed-otp-tampered":                  false, // otp changed, h kept
	"replayed-request":                       true,  //
	"bad-otp-after-client-lookup":            true,  // a reject need not echo
	"bad-signature":                          true,  //
	"missing-parameter-empty-key":            true,  // configuration report: signature not needed
	"no-such-client-empty-key":               true,  //
	"bad-otp-format-empty-key":               false, // a reject must be signed with our key
	"operation-not-allowed":                  true,  //
	"backend-error":                          true,  //
	"not-enough-answers":                     true,  //
	"ok-key1851":                             true,  //
}

func TestClientTrustsOnlyAuthenticResponseVectors(t *testing.T) {
	t.Parallel()
	clientKey := []byte(nil)
	for _, c := range loadVectors(t) {
		if c.Kind == "response" && c.APIKeyB64 != "" {
			clientKey = c.apiKey(t) // any real key: the client never holds the empty one
		}
	}
	for _, c := range loadVectors(t) {
		if c.Kind != "response" {
			continue
		}
		want, listed := clientTrusts[c.Name]
		t.Run("judges "+c.Name, func(t *testing.T) {
			t.Parallel()
			if !listed {
				t.Fatal("vector missing from clientTrusts")
			}
			key := c.apiKey(t)
			if len(key) == 0 {
				key = clientKey // the client holds a real key; the server used none
			}
			fields, err := ParseResponse([]byte(c.ResponseText))
			if err != nil {
				t.Fatal(err)
			}
			client := &Client{APIKey: key}
			otp, nonce := c.Params["otp"], c.Params["nonce"]
			status, err := client.check(fields, otp, nonce)
			if got := err == nil; got != want {
				t.Fatalf("trusted = %v (%v), want %v", got, err, want)
			}
			if want && status != c.Status {
				t.Errorf("status %s, want %s", status, c.Status)
			}
		})
	}
}

// parseVectorTime reads a t field such as 2024-01-15T10:20:30Z0123.
func parseVectorTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse("2006-01-02T15:04:05", s[:19])
	ms, errMS := strconv.Atoi(s[21:])
	if err != nil || errMS != nil || s[19:21] != "Z0" || len(s) != 24 {
		t.Fatalf("bad t %q: %v %v", s, err, errMS)
	}
	return at.Add(time.Duration(ms) * time.Millisecond)
}

func TestServerWritesResponseVectorsByteForByte(t *testing.T) {
	t.Parallel()
	order := []string{"otp", "nonce", "sl", "timestamp", "sessioncounter", "sessionuse", "status"}
	for _, c := range loadVectors(t) {
		if c.Kind != "response" || !c.SignatureValid {
			continue
		}
		t.Run("writes "+c.Name, func(t *testing.T) {
			t.Parallel()
			at := parseVectorTime(t, c.Params["t"])
			if got := FormatTime(at); got != c.Params["t"] {
				t.Fatalf("FormatTime = %s, want %s", got, c.Params["t"])
			}
			var fields []field
			for _, k := range order {
				if v, ok := c.Params[k]; ok {
					fields = append(fields, field{k, v})
				}
			}
			server := &Server{Now: func() time.Time { return at }}
			rec := httptest.NewRecorder()
			server.write(rec, c.apiKey(t), fields)
			if got := rec.Body.Bytes(); !bytes.Equal(got, []byte(c.ResponseText)) {
				t.Errorf("body\n%q\nwant\n%q", got, c.ResponseText)
			}
		})
	}
}
