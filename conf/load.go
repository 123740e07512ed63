package conf

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultFile is the config file [Find] looks for in the working directory.
const DefaultFile = "otpgate.toml"

// Load reads the TOML file at path over the built-in defaults and validates
// the result. It returns the config (with File set to path), or nil and an
// error: a wrapped [fs.PathError] when the file cannot be read, otherwise
// [Errors] listing every problem as "file:line: key: message".
//
// Tables replace or overlay defaults as the package documentation says.
// A syntax error stops parsing and is the only problem reported.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return parse(path, data)
}

// Find loads the config an otpgate command should use: explicit when it is
// not empty, else "otpgate.toml" in the working directory when that exists,
// else the built-in defaults (validated, with File "").
func Find(explicit string) (*Config, error) {
	if explicit != "" {
		return Load(explicit)
	}
	if _, err := os.Lstat(DefaultFile); errors.Is(err, fs.ErrNotExist) {
		c := Default()
		if err := c.Validate(); err != nil {
			return nil, err
		}
		return c, nil
	}
	return Load(DefaultFile)
}

// parse is Load after reading: data, named file, over the defaults.
func parse(file string, data []byte) (*Config, error) {
	c := Default()
	c.File = file
	mirror := reflect.New(primitiveMirror(reflect.TypeFor[Config]()))
	md, err := toml.Decode(string(data), mirror.Interface())
	if err != nil {
		return nil, Errors{syntaxError(file, data, err)}
	}
	d := &decoder{
		file:     file,
		data:     data,
		md:       &md,
		lines:    scanKeyLines(string(data)),
		reported: map[string]bool{},
	}
	d.fillStruct(mirror.Elem(), reflect.ValueOf(c).Elem(), nil)
	// The built-in RADIUS client and LDAP listener name the built-in
	// service webmail; a file with its own services configures its own.
	if md.IsDefined("services") && !md.IsDefined("radius", "clients") {
		c.Radius.Clients = nil
	}
	if md.IsDefined("services") && !md.IsDefined("ldap", "service") {
		c.LDAP.Listen, c.LDAP.LDAPSListen = nil, nil
	}
	d.checkKeys()
	for _, p := range c.problems() {
		if !coveredBy(p.key, d.reported) {
			d.add(p.key.String(), d.lines.lineOf(p.key), p.msg)
		}
	}
	if err := d.errs.orNil(); err != nil {
		return nil, err
	}
	return c, nil
}

func syntaxError(file string, data []byte, err error) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: file, Line: parseErrorLine(pe, data), Key: pe.LastKey, Message: pe.Message}
	}
	line, key, msg := splitLibraryError(err)
	return &Error{File: file, Line: line, Key: key, Message: msg}
}

// parseErrorLine returns the line of pe. It is computed from the byte offset
// because Position.Line is one too high when the offending character is a
// line end ("[store\n" reports the next line), and Position.Col is wrong in
// column 1.
func parseErrorLine(pe toml.ParseError, data []byte) int {
	if pe.Position.Line <= 0 || pe.Position.Start < 0 {
		return pe.Position.Line
	}
	return 1 + bytes.Count(data[:min(pe.Position.Start, len(data))], []byte("\n"))
}

// libraryErrorRE matches the text of the TOML library's plain errors, e.g.
// `toml: line 3 (last key "store.path"): incompatible types: ...`.
var libraryErrorRE = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)

// splitLibraryError extracts line and key from a plain library error; line
// is 0 and key "" when the text does not carry them.
func splitLibraryError(err error) (line int, key, msg string) {
	m := libraryErrorRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, "", strings.TrimPrefix(err.Error(), "toml: ")
	}
	line, _ = strconv.Atoi(m[1])
	key, uerr := strconv.Unquote(m[2])
	if uerr != nil {
		key = m[2]
	}
	return line, key, m[3]
}

// decoder overlays a parsed document on a Config one value at a time, so
// that one value of the wrong type does not hide the problems of the others.
type decoder struct {
	file     string
	data     []byte
	md       *toml.MetaData
	lines    keyLines
	errs     Errors
	reported map[string]bool // keys with a decoding or key-name error
}

func (d *decoder) add(key string, line int, msg string) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Key: key, Message: msg})
}

// report records a problem of key itself; rules about key and the keys
// below it are then not checked again.
func (d *decoder) report(key toml.Key, msg string) {
	d.reported[key.String()] = true
	d.add(key.String(), d.lines.lineOf(key), msg)
}

// coveredBy reports whether key or one of its ancestors is in set.
func coveredBy(key toml.Key, set map[string]bool) bool {
	for n := len(key); n > 0; n-- {
		if set[key[:n].String()] {
			return true
		}
	}
	return false
}

var durationType = reflect.TypeFor[time.Duration]()

// decodeValue decodes prim, the value of key, into dst. dst is replaced
// only by a value that decoded without error.
func (d *decoder) decodeValue(prim toml.Primitive, dst reflect.Value, key toml.Key) {
	switch {
	case dst.Type() == durationType && d.tomlType(key) == "Integer":
		d.report(key, `durations need a unit, e.g. "30s"`)
	case dst.Kind() == reflect.Struct:
		mirror := reflect.New(primitiveMirror(dst.Type()))
		if err := d.md.PrimitiveDecode(prim, mirror.Interface()); err != nil {
			d.decodeFailed(key, dst.Type(), err)
			return
		}
		d.fillStruct(mirror.Elem(), dst, key)
	case dst.Kind() == reflect.Map:
		d.decodeMap(prim, dst, key)
	default:
		v := reflect.New(dst.Type())
		if err := d.md.PrimitiveDecode(prim, v.Interface()); err != nil {
			d.decodeFailed(key, dst.Type(), err)
			return
		}
		dst.Set(v.Elem())
	}
}

// fillStruct decodes each field present in mirror (see primitiveMirror)
// into the field of the same name of dst.
func (d *decoder) fillStruct(mirror, dst reflect.Value, key toml.Key) {
	for i := range mirror.NumField() {
		prim, ok := mirror.Field(i).Interface().(toml.Primitive)
		if !ok || mirror.Field(i).IsZero() {
			continue // absent from the file: keep the default
		}
		field := mirror.Type().Field(i)
		name, _, _ := strings.Cut(field.Tag.Get("toml"), ",")
		d.decodeValue(prim, dst.FieldByName(field.Name), append(key[:len(key):len(key)], name))
	}
}

// decodeMap replaces the map dst with the table prim.
func (d *decoder) decodeMap(prim toml.Primitive, dst reflect.Value, key toml.Key) {
	var entries map[string]toml.Primitive
	if err := d.md.PrimitiveDecode(prim, &entries); err != nil {
		d.decodeFailed(key, dst.Type(), err)
		return
	}
	if entries == nil { // the library returns no error for a non-table value
		d.report(key, typeMessage(dst.Type(), d.tomlType(key)))
		return
	}
	m := reflect.MakeMapWithSize(dst.Type(), len(entries))
	for name, entry := range entries {
		v := reflect.New(dst.Type().Elem()).Elem()
		d.decodeValue(entry, v, append(key[:len(key):len(key)], name))
		m.SetMapIndex(reflect.ValueOf(name).Convert(dst.Type().Key()), v)
	}
	dst.Set(m)
}

// decodeFailed reports a value that does not fit its field, taking line and
// key from the library's error when it has them.
func (d *decoder) decodeFailed(key toml.Key, want reflect.Type, err error) {
	d.reported[key.String()] = true
	line, name, msg := 0, key.String(), ""
	var pe toml.ParseError
	if errors.As(err, &pe) { // out of range, bad duration text
		line, name, msg = parseErrorLine(pe, d.data), cmp.Or(pe.LastKey, name), pe.Message
		if want == durationType {
			msg += `; use e.g. "500ms", "30s", "15m" or "1h"`
		}
	} else {
		var libKey string
		line, libKey, _ = splitLibraryError(err)
		name = cmp.Or(libKey, name)
		msg = typeMessage(want, d.tomlType(key))
	}
	if line == 0 {
		line = d.lines.lineOf(key)
	}
	d.add(name, line, msg)
}

// tomlType returns the [toml.MetaData.Type] of key, also when the file
// spells key in another case (the library matched it anyway); "" if absent.
func (d *decoder) tomlType(key toml.Key) string {
	if typ := d.md.Type(key...); typ != "" {
		return typ
	}
	for _, k := range d.md.Keys() {
		if len(k) == len(key) && strings.EqualFold(k.String(), key.String()) {
			return d.md.Type(k...)
		}
	}
	return ""
}

// typeMessage says what a value of Go type want must look like in TOML,
// and what it was instead (found is a [toml.MetaData.Type] name, or "").
func typeMessage(want reflect.Type, found string) string {
	var wantText string
	switch {
	case want == durationType:
		wantText = `a duration string, e.g. "30s"`
	case want.Kind() == reflect.String:
		wantText = "a string"
	case want.Kind() >= reflect.Int && want.Kind() <= reflect.Uint64:
		wantText = "an integer"
	case want.Kind() == reflect.Slice && want.Elem().Kind() == reflect.String:
		wantText = "an array of strings"
	case want.Kind() == reflect.Struct || want.Kind() == reflect.Map:
		wantText = "a table"
	default:
		wantText = "a " + want.String()
	}
	foundText := map[string]string{
		"Integer": "an integer", "Float": "a float", "String": "a string", "Bool": "a boolean",
		"Datetime": "a date-time", "Hash": "a table", "ArrayHash": "an array of tables",
	}[found]
	if foundText == "" || foundText == wantText {
		return "must be " + wantText
	}
	return "must be " + wantText + ", not " + foundText
}

// checkKeys reports keys the config does not know and keys not written in
// lower case (the library matches field names case-insensitively).
func (d *decoder) checkKeys() {
	unknown := map[string]bool{}
	for _, key := range d.md.Undecoded() {
		if coveredBy(key, unknown) || coveredBy(key, d.reported) {
			continue // only the outermost unknown key, nothing below a bad value
		}
		unknown[key.String()] = true
		d.report(key, "unknown key")
	}
	for _, key := range d.md.Keys() {
		if coveredBy(key, unknown) {
			continue
		}
		for n := 1; n <= len(key); n++ { // Keys lacks the implicit A of [A.b] and A.b = 1
			part := key[:n]
			if last := part[n-1]; last != strings.ToLower(last) && !d.reported[part.String()] {
				d.report(part, "key must be lower-case")
			}
		}
	}
}

// primitiveMirror returns a struct type with the TOML-tagged fields of t
// (same names and tags), each of type toml.Primitive. Decoding a table into
// it marks exactly the known keys as decoded and defers each value's
// decoding, so decodeValue can check values one at a time.
func primitiveMirror(t reflect.Type) reflect.Type {
	var fields []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if tag := f.Tag.Get("toml"); tag != "" && tag != "-" && f.IsExported() {
			fields = append(fields, reflect.StructField{
				Name: f.Name, Type: reflect.TypeFor[toml.Primitive](), Tag: f.Tag,
			})
		}
	}
	return reflect.StructOf(fields)
}
