package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// route is one registered method and path (a ServeMux pattern without
// the method). The table is the only way routes reach the mux, so tests
// can compare it with the OpenAPI document.
type route struct {
	method string
	path   string
}

// reply is a successful answer: status, JSON body and optional Location.
type reply struct {
	status   int
	body     any
	location string
}

// operation runs one API call. An error is mapped to a status by
// errorStatus; a reply may itself carry a 4xx/5xx status (decisions).
type operation func(r *http.Request) (reply, error)

// handle registers op at method and path.
func (a *api) handle(method, path string, op operation) {
	a.routes = append(a.routes, route{method: method, path: path})
	a.mux.Handle(method+" "+path, a.wrap(op))
}

// wrap runs op, writes its reply or error, and logs the request once.
func (a *api) wrap(op operation) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		rep, err := op(r)
		status := rep.status
		if err != nil {
			var msg string
			status, msg = errorStatus(err)
			writeError(w, status, msg)
		} else {
			if rep.location != "" {
				w.Header().Set("Location", rep.location)
			}
			writeJSON(w, status, rep.body)
		}
		a.logRequest(r, status, err, time.Since(start))
	})
}

// logRequest writes the one record of a request. Paths carry user names
// and serials, never secrets; errors from manage and the store never
// contain secret bytes (backend and manage guarantee it).
func (a *api) logRequest(r *http.Request, status int, err error, took time.Duration) {
	attrs := []any{"proto", "http", "remote", r.RemoteAddr, "method", r.Method, "route", r.Pattern,
		"path", r.URL.Path, "status", status, "duration", took}
	if name := r.PathValue("name"); name != "" {
		attrs = append(attrs, "user", name)
	}
	if serial := r.PathValue("serial"); serial != "" {
		attrs = append(attrs, "token", serial)
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	}
	a.log.Log(r.Context(), level, "admin api request", attrs...)
}

// requestError is a malformed request (bad JSON, unknown field, oversized
// body): its message goes to the client as is.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// errorStatus maps an error to the status and the client-visible text.
// manage's and the store's messages name the user or token and the rule
// that failed, never a secret, so 4xx texts are shown as is; anything
// else is a 500 with generic text (the cause is logged by wrap).
func errorStatus(err error) (int, string) {
	var re *requestError
	switch {
	case errors.As(err, &re):
		return re.status, re.msg
	case errors.Is(err, manage.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, verify.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, verify.ErrExists), errors.Is(err, manage.ErrRefused):
		return http.StatusConflict, err.Error()
	}
	return http.StatusInternalServerError, "internal error"
}

// errorBody is the one error shape of the API.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// writeJSON writes body as JSON. Bodies are built from plain structs and
// maps, so encoding cannot fail short of a programming error.
func writeJSON(w http.ResponseWriter, status int, body any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // otpauth URIs keep their '&'
	if err := enc.Encode(body); err != nil {
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString(`{"error":"internal error"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// decode reads the request body as exactly one JSON object into dst,
// refusing unknown fields. With optional set, an empty body leaves dst
// unchanged.
func decode(r *http.Request, dst any, optional bool) error {
	dec := json.NewDecoder(r.Body) // limited by wrap
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if errors.Is(err, io.EOF) && optional {
		return nil
	}
	if err != nil {
		return decodeError(err)
	}
	// One JSON text is one value (RFC 8259 §2); trailing data is malformed.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return decodeError(err)
		}
		return badRequest("request body must hold a single JSON object")
	}
	return nil
}

// decodeError turns a decoding failure into a requestError. Texts name
// fields and offsets, never values (a value may be a secret).
func decodeError(err error) error {
	var (
		tooBig    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return &requestError{status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("request body exceeds %d bytes", maxBodyBytes)}
	case errors.Is(err, io.EOF):
		return badRequest("request body must be a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("request body is truncated JSON")
	case errors.As(err, &syntaxErr):
		return badRequest("request body is not valid JSON (at byte %d)", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return badRequest("request body must be a JSON object")
		}
		return badRequest("field %q must be %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
	}
	// encoding/json reports an unknown field as `json: unknown field "x"`
	// without a typed error; the name came from the client.
	return badRequest("request body: %s", trimJSONPrefix(err.Error()))
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int64", "uint", "uint64":
		return "an integer"
	case "slice":
		return "an array"
	case "bool":
		return "a boolean"
	}
	return "of another type"
}

func trimJSONPrefix(s string) string {
	const p = "json: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
