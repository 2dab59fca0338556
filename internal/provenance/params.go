package provenance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"
)

// toStruct converts parameters to a protobuf Struct; see [Statement] for the
// values it accepts. An empty map gives nil, which leaves the field out.
func toStruct(field string, m map[string]any) (*structpb.Struct, error) {
	if len(m) == 0 {
		return nil, nil
	}
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(m))}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		f := field + "." + k
		if !utf8.ValidString(k) {
			return nil, fieldErr(field, ErrInvalidParameters, "key %q is not valid UTF-8", k)
		}
		v, err := toValue(f, m[k])
		if err != nil {
			return nil, err
		}
		s.Fields[k] = v
	}
	return s, nil
}

func toValue(field string, v any) (*structpb.Value, error) {
	switch v := v.(type) {
	case map[string]any:
		s, err := toStruct(field, v)
		if err != nil {
			return nil, err
		}
		if s == nil {
			s = &structpb.Struct{}
		}
		return structpb.NewStructValue(s), nil
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = x
		}
		return toValue(field, m)
	case []any:
		l := &structpb.ListValue{Values: make([]*structpb.Value, len(v))}
		for i, x := range v {
			val, err := toValue(fmt.Sprintf("%s[%d]", field, i), x)
			if err != nil {
				return nil, err
			}
			l.Values[i] = val
		}
		return structpb.NewListValue(l), nil
	case []string:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = x
		}
		return toValue(field, l)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fieldErr(field, ErrInvalidParameters, "%v is not a JSON number", v)
		}
	case float32:
		return toValue(field, float64(v))
	case string:
		if !utf8.ValidString(v) {
			return nil, fieldErr(field, ErrInvalidParameters, "%q is not valid UTF-8", v)
		}
	}
	val, err := structpb.NewValue(v)
	if err == nil {
		return val, nil
	}
	// Anything else (structs, typed maps and slices) goes through its JSON
	// encoding, which is what the field will hold in the end.
	raw, jerr := json.Marshal(v)
	if jerr != nil {
		return nil, fieldErr(field, ErrInvalidParameters, "%v", jerr)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, fieldErr(field, ErrInvalidParameters, "%v", err)
	}
	return toValue(field, generic)
}
