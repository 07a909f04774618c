// Command gen writes decode_gen.go: decoders for the runtime-spec types
// (config.json) that read JSON tokens directly instead of building
// encoding/json's reflection tables, which cost a process ~0.3 ms the first
// time it decodes a spec. Run by `go generate ./oci/specjson`; an argument
// names another output file (the package's test compares).
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"reflect"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type gen struct {
	buf     bytes.Buffer
	done    map[reflect.Type]bool
	queue   []reflect.Type
	imports map[string]bool
}

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.buf, format+"\n", args...) }

// fnName is the decoder function of named struct type t.
var genImports = map[string]bool{}

func fnName(t reflect.Type) string { return "dec" + t.Name() }

func typeExpr(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return "*" + typeExpr(t.Elem())
	case reflect.Slice:
		return "[]" + typeExpr(t.Elem())
	case reflect.Map:
		return "map[" + typeExpr(t.Key()) + "]" + typeExpr(t.Elem())
	}
	if t.PkgPath() == "github.com/opencontainers/runtime-spec/specs-go" {
		return "specs." + t.Name()
	}
	if t.PkgPath() != "" {
		genImports[t.PkgPath()] = true
		return t.String()
	}
	return t.Name()
}

func (g *gen) need(t reflect.Type) {
	if !g.done[t] {
		g.done[t] = true
		g.queue = append(g.queue, t)
	}
}

// value emits code decoding the next JSON value into the addressable Go
// expression dst of type t.
func (g *gen) value(dst string, t reflect.Type, depth int) {
	v := fmt.Sprintf("v%d", depth)
	switch t.Kind() {
	case reflect.Struct:
		g.need(t)
		g.p("if err := %s(d, &%s); err != nil { return err }", fnName(t), dst)
	case reflect.Pointer:
		g.p("if d.PeekKind() == 'n' { if _, err := d.ReadToken(); err != nil { return err }; %s = nil } else {", dst)
		g.p("if %s == nil { %s = new(%s) }", dst, dst, typeExpr(t.Elem()))
		g.value("(*"+dst+")", t.Elem(), depth+1)
		g.p("}")
	case reflect.Slice:
		g.p("if d.PeekKind() == 'n' { if _, err := d.ReadToken(); err != nil { return err }; %s = nil } else {", dst)
		g.p("if err := arrayStart(d); err != nil { return err }")
		g.p("%s := %s{}", v, typeExpr(t))
		g.p("for d.PeekKind() != ']' {")
		g.p("var e%d %s", depth, typeExpr(t.Elem()))
		g.value(fmt.Sprintf("e%d", depth), t.Elem(), depth+1)
		g.p("%s = append(%s, e%d)", v, v, depth)
		g.p("}")
		g.p("if _, err := d.ReadToken(); err != nil { return err }")
		g.p("%s = %s", dst, v)
		g.p("}")
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic("map key " + t.String())
		}
		g.p("if d.PeekKind() == 'n' { if _, err := d.ReadToken(); err != nil { return err }; %s = nil } else {", dst)
		g.p("if err := objectStart(d); err != nil { return err }")
		g.p("if %s == nil { %s = %s{} }", dst, dst, typeExpr(t))
		g.p("for d.PeekKind() != '}' {")
		g.p("k%d, err := name(d)", depth)
		g.p("if err != nil { return err }")
		g.p("var e%d %s", depth, typeExpr(t.Elem()))
		g.value(fmt.Sprintf("e%d", depth), t.Elem(), depth+1)
		g.p("%s[%s(k%d)] = e%d", dst, typeExpr(t.Key()), depth, depth)
		g.p("}")
		g.p("if _, err := d.ReadToken(); err != nil { return err }")
		g.p("}")
	case reflect.String:
		g.p("if s, ok, err := str(d); err != nil { return err } else if ok { %s = %s(s) }", dst, typeExpr(t))
	case reflect.Bool:
		g.p("if b, ok, err := boolean(d); err != nil { return err } else if ok { %s = b }", dst)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		g.p("if n, ok, err := integer(d, %d); err != nil { return err } else if ok { %s = %s(n) }", t.Bits(), dst, typeExpr(t))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		g.p("if n, ok, err := unsigned(d, %d); err != nil { return err } else if ok { %s = %s(n) }", t.Bits(), dst, typeExpr(t))
	default:
		panic("unsupported kind " + t.String())
	}
}

func jsonName(f reflect.StructField) (string, bool) {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, opts, _ := strings.Cut(tag, ",")
	for _, o := range strings.Split(opts, ",") {
		if o != "" && o != "omitempty" {
			panic(fmt.Sprintf("%s: tag option %q", f.Name, o))
		}
	}
	if name == "" {
		name = f.Name
	}
	return name, true
}

type field struct {
	name, path, platform string
	typ                  reflect.Type
}

// fields lists t's JSON members as encoding/json sees them: embedded
// structs without a name of their own promote their fields.
func fields(t reflect.Type, prefix string) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			out = append(out, fields(f.Type, prefix+f.Name+".")...)
			continue
		}
		if f.Anonymous || !f.IsExported() {
			panic(t.Name() + ": unsupported field " + f.Name)
		}
		n, ok := jsonName(f)
		if !ok {
			continue
		}
		out = append(out, field{n, prefix + f.Name, f.Tag.Get("platform"), f.Type})
	}
	seen := map[string]bool{}
	for _, f := range out {
		if seen[strings.ToLower(f.name)] {
			panic(t.Name() + ": two members named " + f.name)
		}
		seen[strings.ToLower(f.name)] = true
	}
	return out
}

func (g *gen) structDecoder(t reflect.Type) {
	g.p("func %s(d *jsontext.Decoder, v *%s) error {", fnName(t), typeExpr(t))
	g.p("if d.PeekKind() == 'n' { _, err := d.ReadToken(); return err }")
	g.p("if err := objectStart(d); err != nil { return err }")
	g.p("for d.PeekKind() != '}' {")
	g.p("k, err := name(d)")
	g.p("if err != nil { return err }")
	g.p("switch k {")
	var names []string
	for _, f := range fields(t, "") {
		names = append(names, f.name)
		if f.platform != "" && !strings.Contains(f.platform, "linux") {
			// another platform's section: left to encoding/json
			g.p("case %q: return errFallback", f.name)
			continue
		}
		g.p("case %q:", f.name)
		g.value("v."+f.path, f.typ, 0)
	}
	sort.Strings(names)
	g.p("default:")
	g.p("if foldsTo(k, %#v) { return errFallback }", names)
	g.p("if err := d.SkipValue(); err != nil { return err }")
	g.p("}")
	g.p("}")
	g.p("_, err := d.ReadToken()")
	g.p("return err")
	g.p("}")
	g.p("")
}

func main() {
	body := &gen{done: map[reflect.Type]bool{}}
	body.need(reflect.TypeOf(specs.Spec{}))
	for len(body.queue) > 0 {
		t := body.queue[0]
		body.queue = body.queue[1:]
		body.structDecoder(t)
	}
	g := &gen{}
	g.p("// Code generated by oci/specjson/gen; DO NOT EDIT.")
	g.p("")
	g.p("package specjson")
	g.p("")
	g.p("import (")
	g.p(`"encoding/json/jsontext"`)
	var extra []string
	for p := range genImports {
		extra = append(extra, p)
	}
	sort.Strings(extra)
	for _, p := range extra {
		g.p("%q", p)
	}
	g.p("")
	g.p(`specs "github.com/opencontainers/runtime-spec/specs-go"`)
	g.p(")")
	g.p("")
	g.buf.Write(body.buf.Bytes())
	out, err := format.Source(g.buf.Bytes())
	if err != nil {
		os.Stdout.Write(g.buf.Bytes())
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dst := "decode_gen.go"
	if len(os.Args) > 1 {
		dst = os.Args[1]
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
