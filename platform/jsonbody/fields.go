package jsonbody

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"procfin/platform/errs"
)

// walker decodes a JSON value that is known to be well-formed into a Go
// value field by field, so that every bad field is found, not only the
// first: a wrong type, an unknown field (when strict), a value its own
// UnmarshalJSON refuses. A bad field is left at its zero value (a
// pointer nil), so that the caller's own checks see it as missing and
// the problem is named once.
type walker struct {
	strict bool // as Decode: unknown fields refused, numbers as json.Number
	fe     []errs.FieldError
}

// Fields decodes the well-formed JSON value raw into dst (a non-nil
// pointer), naming every bad field; unknown fields are refused when
// strict. dst holds every good field afterwards.
func Fields(raw []byte, dst any, strict bool) []errs.FieldError {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return []errs.FieldError{errs.Field("body", errs.FieldInvalid)}
	}
	w := &walker{strict: strict}
	v.Elem().SetZero()
	w.value(bytes.TrimSpace(raw), v.Elem(), "")
	return w.fe
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (w *walker) bad(path, code string, args ...any) {
	if path == "" {
		path = "body"
	}
	w.fe = append(w.fe, errs.Field(path, code, args...))
}

func (w *walker) value(raw []byte, v reflect.Value, path string) {
	if len(raw) == 0 {
		return
	}
	null := string(raw) == "null"
	switch v.Kind() {
	case reflect.Pointer:
		if null {
			v.SetZero()
			return
		}
		if !implements(v) {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			before := len(w.fe)
			w.value(raw, v.Elem(), path)
			if len(w.fe) > before {
				v.SetZero()
			}
			return
		}
	case reflect.Map, reflect.Slice, reflect.Interface:
		if null {
			v.SetZero()
			return
		}
	}
	if v.CanAddr() && implements(v.Addr()) || v.Kind() == reflect.Pointer {
		w.leaf(raw, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if null {
			return
		}
		if raw[0] != '{' {
			w.bad(path, errs.FieldWrongType, "object")
			return
		}
		w.object(raw, path, func(key string, val []byte) bool {
			f, ok := fieldsOf(v.Type()).find(key)
			if !ok {
				return false
			}
			fv, ok := fieldByIndex(v, f.index)
			if !ok {
				return true
			}
			w.value(val, fv, join(path, f.name))
			return true
		})
	case reflect.Map:
		if raw[0] != '{' {
			w.bad(path, errs.FieldWrongType, "object")
			return
		}
		if v.Type().Key().Kind() != reflect.String {
			w.leaf(raw, v, path)
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		w.object(raw, path, func(key string, val []byte) bool {
			ev := reflect.New(v.Type().Elem()).Elem()
			before := len(w.fe)
			w.value(val, ev, join(path, key))
			if len(w.fe) == before {
				v.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), ev)
			}
			return true
		})
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 && v.Kind() == reflect.Slice {
			w.leaf(raw, v, path)
			return
		}
		if null {
			return
		}
		if raw[0] != '[' {
			w.bad(path, errs.FieldWrongType, "array")
			return
		}
		w.array(raw, v, path)
	default:
		w.leaf(raw, v, path)
	}
}

func implements(v reflect.Value) bool {
	t := v.Type()
	return t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType)
}

// leaf decodes raw into v with encoding/json (numbers as json.Number, as
// Decode does) and names the field if it cannot.
func (w *walker) leaf(raw []byte, v reflect.Value, path string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if w.strict {
		dec.UseNumber()
		dec.DisallowUnknownFields()
	}
	target := reflect.New(v.Type())
	err := dec.Decode(target.Interface())
	if err == nil {
		v.Set(target.Elem())
		return
	}
	w.fe = append(w.fe, fieldErrorOf(err, path)...)
}

// fieldErrorOf names the problems of one field's value.
func fieldErrorOf(err error, path string) []errs.FieldError {
	if path == "" {
		path = "body"
	}
	var (
		pe interface {
			FieldError(field string) errs.FieldError
		}
		typeErr *json.UnmarshalTypeError
		e       *errs.Error
	)
	switch {
	case errors.As(err, &pe):
		return []errs.FieldError{pe.FieldError(path)}
	case errors.As(err, &e) && len(e.Fields) > 0:
		out := make([]errs.FieldError, len(e.Fields))
		for i, f := range e.Fields {
			if f.Field == "" {
				f.Field = path
			}
			out[i] = f
		}
		return out
	case errors.As(err, &typeErr) && typeErr.Type != nil:
		field := path
		if typeErr.Field != "" && !strings.HasSuffix(path, typeErr.Field) {
			field = join(path, typeErr.Field)
		}
		return []errs.FieldError{errs.Field(field, errs.FieldWrongType, jsonKind(typeErr.Type))}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return []errs.FieldError{errs.Field(join(path, name), errs.FieldUnknown)}
	}
	return []errs.FieldError{errs.Field(path, errs.FieldInvalid)}
}

// object calls member for each member of the JSON object raw, in order;
// member reports whether the struct has the key.
func (w *walker) object(raw []byte, path string, member func(key string, val []byte) bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		w.bad(path, errs.FieldInvalid)
		return
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			w.bad(path, errs.FieldInvalid)
			return
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			w.bad(join(path, key), errs.FieldInvalid)
			return
		}
		if !member(key, val) && w.strict {
			w.bad(join(path, key), errs.FieldUnknown)
		}
	}
}

// array decodes each element of the JSON array raw into the slice or
// array v.
func (w *walker) array(raw []byte, v reflect.Value, path string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // [
		w.bad(path, errs.FieldInvalid)
		return
	}
	isSlice := v.Kind() == reflect.Slice
	if isSlice {
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	}
	for i := 0; dec.More(); i++ {
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			w.bad(path+"["+strconv.Itoa(i)+"]", errs.FieldInvalid)
			return
		}
		ev := reflect.New(v.Type().Elem()).Elem()
		w.value(bytes.TrimSpace(val), ev, path+"["+strconv.Itoa(i)+"]")
		switch {
		case isSlice:
			v.Set(reflect.Append(v, ev))
		case i < v.Len():
			v.Index(i).Set(ev)
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// jsonKind is the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "object"
}

// A structField is a JSON member of a struct: its name and where it is.
type structField struct {
	name  string
	index []int
}

type structFields []structField

// find is the field named key: exactly, else ignoring case, as
// encoding/json matches.
func (fs structFields) find(key string) (structField, bool) {
	for _, f := range fs {
		if f.name == key {
			return f, true
		}
	}
	for _, f := range fs {
		if strings.EqualFold(f.name, key) {
			return f, true
		}
	}
	return structField{}, false
}

var fieldCache sync.Map // reflect.Type → structFields

// fieldsOf lists t's JSON members: exported fields by their tag's name or
// their own, embedded structs' members promoted (the outer one first).
func fieldsOf(t reflect.Type) structFields {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(structFields)
	}
	var fs structFields
	seen := map[string]bool{}
	var walk func(t reflect.Type, index []int)
	var embedded []func()
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
				embedded = append(embedded, func() { walk(ft, idx) })
				continue
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if !seen[name] {
				seen[name] = true
				fs = append(fs, structField{name: name, index: idx})
			}
		}
	}
	walk(t, nil)
	for len(embedded) > 0 {
		next := embedded
		embedded = nil
		for _, f := range next {
			f()
		}
	}
	fieldCache.Store(t, fs)
	return fs
}

// fieldByIndex is v's field at index, allocating embedded pointers on the
// way; false when an embedded pointer to an unexported type is nil.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}
