package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// Errors Load and Validate report; every problem they return matches one of them with
// errors.Is.
var (
	// ErrUnknownKey is matched by a YAML key or an ATEA_ variable that names no setting.
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrBadValue is matched by a value that cannot be decoded into its setting's type, and by
	// an attempt to set a list from the environment.
	ErrBadValue = errors.New("config: bad value")
	// ErrInvalid is matched by every problem Validate finds (see [KeyError]).
	ErrInvalid = errors.New("config: invalid setting")
)

// envPrefix starts every environment variable Load looks at.
const envPrefix = "ATEA_"

// Load returns the configuration: [Default], overridden by the YAML file at path (skipped if
// path is ""), overridden by the ATEA_ variables in env (a KEY=VALUE list as os.Environ
// returns; Load does not read the process environment). Unknown keys and variables, values
// of the wrong type and lists given in the environment are errors, all reported together.
// Load does not call Validate: callers apply command-line overrides first.
func Load(path string, env []string) (*Config, error) {
	v := viper.New()
	leaves := settingLeaves(Default())
	for _, l := range leaves {
		v.SetDefault(l.key, l.value)
	}
	source := "environment"
	if path != "" {
		source = path
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: read: %w", err)
		}
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	problems := applyEnv(v, env, leaves)

	var c Config
	var md mapstructure.Metadata
	if err := v.Unmarshal(&c, func(dc *mapstructure.DecoderConfig) {
		// Strict: no string↔number↔bool guessing from YAML (strictHook accepts strings where
		// the environment needs them), and unused keys are collected in md to be reported
		// each with its own name, rather than as mapstructure's one combined error.
		dc.WeaklyTypedInput = false
		dc.ErrorUnused = false
		dc.Metadata = &md
		dc.DecodeHook = strictHook
	}); err != nil {
		problems = append(problems, decodeProblems(source, err)...)
	}
	// Unknown keys are found by walking the merged settings against the Config type, so
	// that all of them are reported even when a section also has a bad value (mapstructure
	// stops collecting a struct's unused keys at its first field error). mapstructure's own
	// list is merged in as a second opinion.
	unknown := unknownKeys(v.AllSettings(), reflect.TypeFor[Config](), "")
	unknown = append(unknown, md.Unused...)
	sort.Strings(unknown)
	unknown = slices.Compact(unknown)
	kids := knownChildren()
	for _, key := range unknown {
		problems = append(problems, unknownKey(source, key, suggestKey(kids, key)))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return &c, nil
}

// leaf is one setting with its built-in default.
type leaf struct {
	key   string       // camelCase path, "saml.maxRelayState"
	typ   reflect.Type // the field's type
	value any          // the default
	list  bool         // a slice: YAML only
}

// settingLeaves walks c by its mapstructure tags and returns every setting that is not a
// section (struct): the scalars and the lists.
func settingLeaves(c *Config) []leaf {
	var out []leaf
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			key := prefix + f.Tag.Get("mapstructure")
			fv := v.Field(i)
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(fv, key+".")
			case f.Type.Kind() == reflect.Slice:
				out = append(out, leaf{key: key, typ: f.Type, value: fv.Interface(), list: true})
			default:
				out = append(out, leaf{key: key, typ: f.Type, value: fv.Interface()})
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}

// unknownKeys returns the keys of m, at any depth, that match no field of the struct type
// t, named as mapstructure names them: the path of tag names, list items as [n], and the
// unknown key as written (viper lower-cases it). Values of the wrong shape are skipped here;
// decoding reports them.
func unknownKeys(m map[string]any, t reflect.Type, path string) []string {
	fields := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		fields[strings.ToLower(f.Tag.Get("mapstructure"))] = f
	}
	var out []string
	for k, val := range m {
		f, ok := fields[strings.ToLower(k)]
		if !ok {
			out = append(out, joinKey(path, k))
			continue
		}
		key := joinKey(path, f.Tag.Get("mapstructure"))
		switch ft := f.Type; {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
			if sub, ok := val.(map[string]any); ok {
				out = append(out, unknownKeys(sub, ft, key)...)
			}
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			items, _ := val.([]any)
			for i, item := range items {
				if sub, ok := item.(map[string]any); ok {
					out = append(out, unknownKeys(sub, ft.Elem(), fmt.Sprintf("%s[%d]", key, i))...)
				}
			}
		}
	}
	return out
}

func joinKey(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// knownChildren maps every section path (lower-case, list items as "[]") to the keys it may
// hold, for "did you mean" hints. It walks types, not values, so that the fields of
// serviceProviders items are known although the default list is empty.
func knownChildren() map[string][]string {
	out := map[string][]string{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("mapstructure")
			out[path] = append(out[path], name)
			child := strings.TrimPrefix(path+"."+strings.ToLower(name), ".")
			ft := f.Type
			if ft.Kind() == reflect.Slice {
				ft, child = ft.Elem(), child+"[]"
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]() {
				walk(ft, child)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}

// applyEnv sets the ATEA_ variables of env on v, above the file and the defaults. The
// variable of a key is ATEA_ + the key upper-cased with '.' → '_' (ATEA_SAML_MAXRELAYSTATE);
// the suffix is matched case-insensitively. Values are parsed here by the setting's type so
// that an error names the variable the operator wrote. Values never appear in errors: the
// environment is where deployments tend to put things that should not be echoed.
func applyEnv(v *viper.Viper, env []string, leaves []leaf) []error {
	byEnv := make(map[string]leaf, len(leaves))
	names := make([]string, 0, len(leaves))
	for _, l := range leaves {
		n := strings.ToUpper(strings.ReplaceAll(l.key, ".", "_"))
		byEnv[n] = l
		if !l.list {
			names = append(names, envPrefix+n)
		}
	}
	var problems []error
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		l, known := byEnv[strings.ToUpper(strings.TrimPrefix(name, envPrefix))]
		switch {
		case !known:
			problems = append(problems, unknownKey("environment", name, closest(names, strings.ToUpper(name))))
		case l.list:
			problems = append(problems, &loadError{source: "environment", key: name, kind: ErrBadValue,
				err: fmt.Errorf("%s is a list and can only be set in the YAML file", l.key)})
		default:
			val, err := parseScalar(l.typ, value)
			if err != nil {
				problems = append(problems, &loadError{source: "environment", key: name, kind: ErrBadValue, err: err})
				continue
			}
			v.Set(l.key, val)
		}
	}
	return problems
}

// strictHook is the decode hook: durations only as Go duration strings (a bare YAML number
// would be read as nanoseconds), integers only when whole and in range of the field (so that
// `threads: 300` is not silently stored as 44 in a uint8), and strings parsed for booleans
// and numbers (the form environment values have).
func strictHook(_, to reflect.Type, data any) (any, error) {
	if data == nil {
		return nil, nil
	}
	if s, ok := data.(string); ok {
		switch {
		case to == reflect.TypeFor[time.Duration](), to.Kind() == reflect.Bool, isInt(to.Kind()), isUint(to.Kind()):
			return parseScalar(to, s)
		}
		return data, nil
	}
	switch {
	case to == reflect.TypeFor[time.Duration]():
		if d, ok := data.(time.Duration); ok {
			return d, nil
		}
		return nil, fmt.Errorf("want a duration such as \"5m\" or \"90s\", got %v", data)
	case isInt(to.Kind()), isUint(to.Kind()):
		return wholeNumber(to, data)
	}
	return data, nil
}

// parseScalar parses s as a value of type t (a duration, bool, integer or string).
func parseScalar(t reflect.Type, s string) (any, error) {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return nil, errors.New("want a duration such as \"5m\" or \"90s\"")
		}
		return d, nil
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, errors.New("want true or false")
		}
		return b, nil
	case isInt(t.Kind()):
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, t.Bits())
		if err != nil {
			return nil, fmt.Errorf("want a whole number that fits %s", t)
		}
		return reflect.ValueOf(n).Convert(t).Interface(), nil
	case isUint(t.Kind()):
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, t.Bits())
		if err != nil {
			return nil, fmt.Errorf("want a non-negative whole number that fits %s", t)
		}
		return reflect.ValueOf(n).Convert(t).Interface(), nil
	case t.Kind() == reflect.String:
		return s, nil
	}
	return nil, fmt.Errorf("cannot set a %s from text", t)
}

// wholeNumber converts a decoded YAML number to the integer type t, refusing fractions and
// values t cannot hold.
func wholeNumber(t reflect.Type, data any) (any, error) {
	rv := reflect.ValueOf(data)
	out := reflect.New(t).Elem()
	switch {
	case isInt(rv.Kind()):
		n := rv.Int()
		if isInt(t.Kind()) && !out.OverflowInt(n) || isUint(t.Kind()) && n >= 0 && !out.OverflowUint(uint64(n)) {
			return reflect.ValueOf(n).Convert(t).Interface(), nil
		}
	case isUint(rv.Kind()):
		n := rv.Uint()
		if isUint(t.Kind()) && !out.OverflowUint(n) || isInt(t.Kind()) && n <= math.MaxInt64 && !out.OverflowInt(int64(n)) {
			return reflect.ValueOf(n).Convert(t).Interface(), nil
		}
	case rv.Kind() == reflect.Float32 || rv.Kind() == reflect.Float64:
		return nil, fmt.Errorf("want a whole number, got %v", data)
	default:
		// Not a number: leave it to mapstructure, which reports the type mismatch.
		return data, nil
	}
	return nil, fmt.Errorf("%v does not fit %s", data, t)
}

func isInt(k reflect.Kind) bool  { return k >= reflect.Int && k <= reflect.Int64 }
func isUint(k reflect.Kind) bool { return k >= reflect.Uint && k <= reflect.Uintptr }

// decodeProblems turns mapstructure's tree of joined errors into one error per setting,
// each naming the key. It walks the tree by hand because errors.As would stop at the first
// DecodeError and hide the others.
func decodeProblems(source string, err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) { //nolint:errorlint // walking the tree itself, not matching a cause
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		case *mapstructure.DecodeError:
			out = append(out, &loadError{source: source, key: x.Name(), kind: ErrBadValue, err: x.Unwrap()})
		default:
			if u := errors.Unwrap(e); u != nil {
				walk(u)
				return
			}
			out = append(out, &loadError{source: source, kind: ErrBadValue, err: e})
		}
	}
	walk(err)
	return out
}

// loadError is one problem Load found with one key or variable. It matches its kind
// (ErrUnknownKey or ErrBadValue) and its cause with errors.Is.
type loadError struct {
	source string // the file, or "environment"
	key    string // the key as written, or the variable name; "" if unknown
	kind   error
	err    error
}

func (e *loadError) Error() string {
	if e.key == "" {
		return "config: " + e.source + ": " + e.err.Error()
	}
	return "config: " + e.source + ": " + e.key + ": " + e.err.Error()
}

func (e *loadError) Unwrap() []error { return []error{e.kind, e.err} }

// unknownKey reports key as naming no setting, with the nearest known name if there is one.
func unknownKey(source, key, hint string) error {
	msg := "unknown key"
	if source == "environment" {
		msg = "unknown variable"
	}
	if hint != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", hint)
	}
	return &loadError{source: source, key: key, kind: ErrUnknownKey, err: errors.New(msg)}
}

// suggestKey returns the known key nearest to an unused one ("saml.sing" → "saml.sign"), or
// "". key is as mapstructure reports it: the parent path from the struct tags, list items as
// [n], and the unknown leaf lower-cased by viper.
func suggestKey(kids map[string][]string, key string) string {
	parent, name := "", key
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		parent, name = key[:i], key[i+1:]
	}
	// "serviceProviders[3]" → "serviceproviders[]", the form knownChildren uses.
	var norm strings.Builder
	inIndex := false
	for _, r := range strings.ToLower(parent) {
		switch {
		case r == '[':
			inIndex = true
			norm.WriteString("[]")
		case r == ']':
			inIndex = false
		case !inIndex:
			norm.WriteRune(r)
		}
	}
	best := closest(kids[norm.String()], name)
	if best == "" || parent == "" {
		return best
	}
	return parent + "." + best
}

// closest returns the candidate nearest to s (case-insensitively), or "" when none is close
// enough to be a likely typo: one edit for names of up to four bytes, two for longer ones.
func closest(candidates []string, s string) string {
	limit := 2
	if len(s) <= 4 {
		limit = 1
	}
	best, bestD := "", limit+1
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(c), strings.ToLower(s)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b, in bytes: the
// Levenshtein distance with the swap of two adjacent bytes ("sing" → "sign") as one edit.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
