package verifier

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeStrict decodes JSON into generic values (objects as
// map[string]any, arrays as []any, numbers as json.Number) and refuses input
// that JSON readers disagree on: invalid UTF-8, an object key given twice,
// or two keys equal under Unicode case folding (encoding/json would match
// either to one struct field), nesting deeper than maxStatementDepth, and
// anything after the value. What it accepts, encoding/json reads to the
// same values (FuzzDecodeStrict holds it to that).
//
// It is a small recursive-descent parser rather than encoding/json's
// tokenizer, which costs an allocation a token: a statement is parsed on
// every verification.
func decodeStrict(data []byte) (any, error) {
	return (&strictParser{data: data}).decode()
}

func (p *strictParser) decode() (any, error) {
	if !utf8.Valid(p.data) {
		return nil, errors.New("invalid UTF-8")
	}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.data) {
		return nil, p.errorf("data after the JSON value")
	}
	return v, nil
}

type strictParser struct {
	data []byte
	pos  int
	// each, when set, takes the elements of the arrays that are the
	// values of the root object's keys it names (eachKey), one at a time,
	// instead of their being kept: the array decodes as empty. Everything
	// else (duplicate keys, depth, syntax) is checked as without it.
	each    func(key string, i int, v any)
	eachKey func(key string) bool
}

func (p *strictParser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *strictParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *strictParser) value(depth int) (any, error) {
	if depth > maxStatementDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxStatementDepth)
	}
	if p.pos >= len(p.data) {
		return nil, p.errorf("unexpected end of JSON")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.string()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return nil, p.errorf("invalid character %q looking for a value", c)
	}
}

func (p *strictParser) literal(word string) error {
	if !strings.HasPrefix(string(p.data[p.pos:min(len(p.data), p.pos+len(word))]), word) {
		return p.errorf("invalid literal, want %s", word)
	}
	p.pos += len(word)
	return nil
}

func (p *strictParser) object(depth int) (any, error) {
	p.pos++ // {
	obj := map[string]any{}
	var folded foldedKeys
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return obj, nil
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errorf("want an object key")
		}
		k, err := p.string()
		if err != nil {
			return nil, err
		}
		if _, dup := obj[k]; dup {
			return nil, fmt.Errorf("key %q given twice", k)
		}
		if other, dup := folded.add(k); dup {
			return nil, fmt.Errorf("keys %q and %q differ only by case", other, k)
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errorf("want ':' after an object key")
		}
		p.pos++
		p.space()
		var v any
		if depth == 0 && p.each != nil && p.eachKey(k) && p.pos < len(p.data) && p.data[p.pos] == '[' {
			v, err = p.arrayEach(depth+1, k)
		} else {
			v, err = p.value(depth + 1)
		}
		if err != nil {
			return nil, err
		}
		obj[k] = v
		p.space()
		if p.pos >= len(p.data) {
			return nil, p.errorf("unexpected end of JSON in an object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return obj, nil
		default:
			return nil, p.errorf("want ',' or '}' in an object")
		}
	}
}

func (p *strictParser) array(depth int) (any, error) {
	return p.elements(depth, "", false)
}

// arrayEach reads the array of the root object's key as array does, and
// hands each element to p.each instead of keeping it: it decodes as empty.
func (p *strictParser) arrayEach(depth int, key string) (any, error) {
	if depth > maxStatementDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxStatementDepth)
	}
	return p.elements(depth, key, true)
}

// elements reads an array at depth: its elements, or with each none, each
// element handed to p.each with key.
func (p *strictParser) elements(depth int, key string, each bool) (any, error) {
	p.pos++ // [
	arr := []any{}
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return arr, nil
	}
	for i := 0; ; i++ {
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if each {
			p.each(key, i, v)
		} else {
			arr = append(arr, v)
		}
		p.space()
		if p.pos >= len(p.data) {
			return nil, p.errorf("unexpected end of JSON in an array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return arr, nil
		default:
			return nil, p.errorf("want ',' or ']' in an array")
		}
	}
}

// string reads a JSON string as encoding/json does: escapes decoded, a
// lone surrogate as U+FFFD, control characters refused.
func (p *strictParser) string() (string, error) {
	p.pos++ // "
	start := p.pos
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			s := string(p.data[start:p.pos])
			p.pos++
			return s, nil
		case c == '\\':
			return p.escapedString(start)
		case c < 0x20:
			return "", p.errorf("control character in a string")
		}
		p.pos++
	}
	return "", p.errorf("unexpected end of JSON in a string")
}

func (p *strictParser) escapedString(start int) (string, error) {
	var b strings.Builder
	b.Write(p.data[start:p.pos])
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c < 0x20:
			return "", p.errorf("control character in a string")
		case c != '\\':
			b.WriteByte(c)
			p.pos++
			continue
		}
		p.pos++ // backslash
		if p.pos >= len(p.data) {
			break
		}
		e := p.data[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A pair, or U+FFFD as encoding/json reads a lone one.
				if p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
					save := p.pos
					p.pos += 2
					if r2, ok := p.hex4(); ok {
						if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
							b.WriteRune(dec)
							continue
						}
					}
					p.pos = save
				}
				r = unicode.ReplacementChar
			}
			b.WriteRune(r)
		default:
			return "", p.errorf("invalid escape \\%c", e)
		}
	}
	return "", p.errorf("unexpected end of JSON in a string")
}

func (p *strictParser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(n), true
}

// number reads a JSON number (RFC 8259's grammar) as its text.
func (p *strictParser) number() (any, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.data[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '0':
		p.pos++
	case digits() == 0:
		return nil, p.errorf("invalid number")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	return json.Number(p.data[start:p.pos]), nil
}

// foldedKeys are an object's keys, to find two that differ only by case
// (whose foldKey is the same). Each key is kept with a hash of its foldKey,
// computed without building it; keys are compared by foldKey only where
// their hashes match, which for distinct keys is as good as never. While
// the object is small (most are) the hashes are scanned; beyond, a count
// of keys by hash says where a scan can find nothing.
type foldedKeys struct {
	list   []listedKey
	byHash map[uint64]uint32
}

type listedKey struct {
	key  string
	hash uint64
}

// foldedKeysScanned is how many keys an object may have before foldedKeys
// counts them by hash.
const foldedKeysScanned = 16

// add records key and returns the key recorded before it that folds alike,
// if any.
func (f *foldedKeys) add(key string) (string, bool) {
	h := foldHash(key)
	if f.byHash == nil || f.byHash[h] > 0 {
		var folded string
		for _, e := range f.list {
			if e.hash != h {
				continue
			}
			if folded == "" {
				folded = foldKey(key)
			}
			if foldKey(e.key) == folded {
				return e.key, true
			}
		}
	}
	f.list = append(f.list, listedKey{key, h})
	switch {
	case f.byHash != nil:
		f.byHash[h]++
	case len(f.list) > foldedKeysScanned:
		f.byHash = make(map[uint64]uint32, 2*len(f.list))
		for _, e := range f.list {
			f.byHash[e.hash]++
		}
	}
	return "", false
}

// foldHash is the FNV-1a hash of foldKey(k), without building it.
func foldHash(k string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, r := range k {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			h = (h ^ uint64(r)) * prime
			continue
		}
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		var b [utf8.UTFMax]byte
		for _, c := range b[:utf8.EncodeRune(b[:], m)] {
			h = (h ^ uint64(c)) * prime
		}
	}
	return h
}
