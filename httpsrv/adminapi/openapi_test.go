package adminapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// openAPIDocument is the part of an OpenAPI 3.0 document the tests check.
type openAPIDocument struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Title   string `json:"title"`
		Version string `json:"version"`
	} `json:"info"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
	} `json:"components"`
	Security []map[string][]string `json:"security"`
}

type openAPIParameter struct {
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

type openAPIOperation struct {
	OperationID string                     `json:"operationId"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func parseOpenAPI(t *testing.T, doc []byte) openAPIDocument {
	t.Helper()
	var d openAPIDocument
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	return d
}

func TestOpenAPI(t *testing.T) {
	t.Parallel()
	doc := parseOpenAPI(t, openAPIDoc)

	t.Run("has the required top-level fields of OpenAPI 3.0", func(t *testing.T) {
		t.Parallel()
		if !regexp.MustCompile(`^3\.0\.\d+$`).MatchString(doc.OpenAPI) {
			t.Errorf("openapi %q, want 3.0.x", doc.OpenAPI)
		}
		if doc.Info.Title == "" || doc.Info.Version == "" {
			t.Errorf("info %+v lacks title or version", doc.Info)
		}
		if len(doc.Paths) == 0 {
			t.Error("no paths")
		}
		if _, ok := doc.Components.SecuritySchemes["bearer"]; !ok || len(doc.Security) != 1 {
			t.Error("the bearer security scheme is not declared and required")
		}
	})

	t.Run("documents exactly the routes the mux serves", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		a, err := newAPI(Config{Tokens: [][]byte{[]byte(adminToken)}, Manager: f.manager})
		if err != nil {
			t.Fatal(err)
		}
		served := map[string]bool{}
		for _, rt := range a.routes {
			served[strings.ToLower(rt.method)+" "+rt.path] = true
			// The table is what the mux holds: a request on the route
			// reaches exactly that pattern.
			req := httptest.NewRequest(rt.method, strings.NewReplacer("{name}", "alice", "{serial}", "TOTP1", "{attr}", "ou").Replace(rt.path), nil)
			if _, pattern := a.mux.Handler(req); pattern != rt.method+" "+rt.path {
				t.Errorf("%s %s reaches pattern %q", rt.method, rt.path, pattern)
			}
		}
		documented := map[string]bool{}
		for path, item := range doc.Paths {
			for key := range item {
				if slices.Contains(httpMethods, key) {
					documented[key+" "+path] = true
				}
			}
		}
		for r := range served {
			if !documented[r] {
				t.Errorf("route %s is served but not in openapi.json", r)
			}
		}
		for r := range documented {
			if !served[r] {
				t.Errorf("route %s is in openapi.json but not served", r)
			}
		}
	})

	t.Run("declares every path parameter and gives every operation an id, 401 and 500", func(t *testing.T) {
		t.Parallel()
		seen := map[string]bool{}
		for path, item := range doc.Paths {
			var params []openAPIParameter
			if raw, ok := item["parameters"]; ok {
				if err := json.Unmarshal(raw, &params); err != nil {
					t.Fatalf("%s parameters: %v", path, err)
				}
			}
			for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
				if !slices.ContainsFunc(params, func(p openAPIParameter) bool { return p.Name == m[1] && p.In == "path" && p.Required }) {
					t.Errorf("%s: path parameter %s is not declared as required", path, m[1])
				}
			}
			for key, raw := range item {
				if !slices.Contains(httpMethods, key) {
					continue
				}
				var op openAPIOperation
				if err := json.Unmarshal(raw, &op); err != nil {
					t.Fatalf("%s %s: %v", key, path, err)
				}
				if op.OperationID == "" || seen[op.OperationID] {
					t.Errorf("%s %s: operationId %q missing or repeated", key, path, op.OperationID)
				}
				seen[op.OperationID] = true
				for _, code := range []string{"401", "500"} {
					if _, ok := op.Responses[code]; !ok {
						t.Errorf("%s %s: response %s not documented", key, path, code)
					}
				}
			}
		}
	})

	t.Run("serves the embedded document at /api/v1/openapi.json", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		r := f.do("GET", "/api/v1/openapi.json", nil)
		want(t, r, http.StatusOK)
		served := parseOpenAPI(t, r.body)
		if len(served.Paths) != len(doc.Paths) || served.OpenAPI != doc.OpenAPI {
			t.Fatal("the served document differs from the embedded one")
		}
		want(t, f.send("GET", "/api/v1/openapi.json", nil, nil), http.StatusUnauthorized)
	})
}
