// Package specjson decodes config.json into the runtime-spec types without
// reflection. encoding/json builds its decoders for a type the first time
// a process decodes one: ~0.3 ms for a spec here, paid by every
// `berth-runc create` and `run` before the container can start. The
// generated decoders (decode_gen.go, `go generate`) read the tokens
// directly; whatever they do not take exactly as encoding/json would (a
// name that matches a field only case-insensitively, duplicate names,
// invalid UTF-8, a value of the wrong type, a number out of range, another
// platform's section) makes Unmarshal fall back to encoding/json, so the
// result and the error messages are encoding/json's.
package specjson

//go:generate go run ./gen

import (
	"bytes"
	"encoding/json"
	"encoding/json/jsontext"
	"errors"
	"io"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// errFallback: the fast decoder leaves this input to encoding/json.
var errFallback = errors.New("specjson: not handled")

// Unmarshal decodes a runtime spec as encoding/json.Unmarshal does.
func Unmarshal(data []byte, s *specs.Spec) error {
	var fast specs.Spec
	if err := decodeFast(data, &fast); err == nil {
		*s = fast
		return nil
	}
	return json.Unmarshal(data, s)
}

func decodeFast(data []byte, s *specs.Spec) error {
	d := jsontext.NewDecoder(bytes.NewReader(data))
	if err := decSpec(d, s); err != nil {
		return err
	}
	if _, err := d.ReadToken(); err != io.EOF { // trailing data
		return errFallback
	}
	return nil
}

func objectStart(d *jsontext.Decoder) error {
	if d.PeekKind() != '{' {
		return errFallback
	}
	_, err := d.ReadToken()
	return err
}

func arrayStart(d *jsontext.Decoder) error {
	if d.PeekKind() != '[' {
		return errFallback
	}
	_, err := d.ReadToken()
	return err
}

// name reads an object member's name.
func name(d *jsontext.Decoder) (string, error) {
	t, err := d.ReadToken()
	if err != nil {
		return "", err
	}
	return t.String(), nil
}

// null consumes a null: encoding/json leaves a non-pointer value as it is.
func null(d *jsontext.Decoder) (bool, error) {
	if d.PeekKind() != 'n' {
		return false, nil
	}
	_, err := d.ReadToken()
	return true, err
}

func str(d *jsontext.Decoder) (string, bool, error) {
	if n, err := null(d); n || err != nil {
		return "", false, err
	}
	if d.PeekKind() != '"' {
		return "", false, errFallback
	}
	t, err := d.ReadToken()
	if err != nil {
		return "", false, err
	}
	return t.String(), true, nil
}

func boolean(d *jsontext.Decoder) (bool, bool, error) {
	if n, err := null(d); n || err != nil {
		return false, false, err
	}
	switch d.PeekKind() {
	case 't', 'f':
	default:
		return false, false, errFallback
	}
	t, err := d.ReadToken()
	if err != nil {
		return false, false, err
	}
	return t.Bool(), true, nil
}

func number(d *jsontext.Decoder) (string, bool, error) {
	if n, err := null(d); n || err != nil {
		return "", false, err
	}
	if d.PeekKind() != '0' {
		return "", false, errFallback
	}
	t, err := d.ReadToken()
	if err != nil {
		return "", false, err
	}
	return t.String(), true, nil
}

func integer(d *jsontext.Decoder, bits int) (int64, bool, error) {
	lit, ok, err := number(d)
	if !ok || err != nil {
		return 0, false, err
	}
	n, err := strconv.ParseInt(lit, 10, bits)
	if err != nil {
		return 0, false, errFallback
	}
	return n, true, nil
}

func unsigned(d *jsontext.Decoder, bits int) (uint64, bool, error) {
	lit, ok, err := number(d)
	if !ok || err != nil {
		return 0, false, err
	}
	n, err := strconv.ParseUint(lit, 10, bits)
	if err != nil {
		return 0, false, errFallback
	}
	return n, true, nil
}

// foldsTo reports whether k names one of names only case-insensitively,
// which encoding/json accepts: left to it.
func foldsTo(k string, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(k, n) {
			return true
		}
	}
	return false
}
