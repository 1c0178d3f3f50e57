package templates

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// catalog is one language's messages: flat key → fmt-style text.
type catalog map[string]string

// loadCatalogs reads locales/<lang>.json for every supported language and checks them
// against each other: same key set, same number of arguments per message. It reports every
// problem it finds, not only the first (dex Config.Validate style), so a translator sees the
// whole list at once.
func loadCatalogs(fsys fs.FS) (map[string]catalog, error) {
	cats := make(map[string]catalog, len(Languages()))
	var problems []error
	// Each self-service area keeps its texts in locales/<area>/<lang>.json beside the core
	// locales/<lang>.json; they merge into one catalog per language, and a key defined twice
	// is an error (a bad merge must not silently keep one text).
	areas, err := fs.ReadDir(fsys, "locales")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		problems = append(problems, fmt.Errorf("templates: read locales: %w", err))
	}
	for _, lang := range Languages() {
		name := "locales/" + lang + ".json"
		raw, err := fs.ReadFile(fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			problems = append(problems, fmt.Errorf("%w: %s", ErrMissingFile, name))
			continue
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("templates: read %s: %w", name, err))
			continue
		}
		c, err := parseCatalog(raw)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", name, err))
			continue
		}
		for _, a := range areas {
			if !a.IsDir() {
				continue
			}
			name := "locales/" + a.Name() + "/" + lang + ".json"
			raw, err := fs.ReadFile(fsys, name)
			if errors.Is(err, fs.ErrNotExist) {
				problems = append(problems, fmt.Errorf("%w: %s", ErrMissingFile, name))
				continue
			}
			if err != nil {
				problems = append(problems, fmt.Errorf("templates: read %s: %w", name, err))
				continue
			}
			more, err := parseCatalog(raw)
			if err != nil {
				problems = append(problems, fmt.Errorf("%s: %w", name, err))
				continue
			}
			for k, v := range more {
				if _, dup := c[k]; dup {
					problems = append(problems, fmt.Errorf("%s: %w: key %q defined twice", name, ErrBadCatalog, k))
					continue
				}
				c[k] = v
			}
		}
		cats[lang] = c
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if err := compareCatalogs(cats); err != nil {
		return nil, err
	}
	return cats, nil
}

// parseCatalog decodes a flat JSON object of string values. Unlike json.Unmarshal into a map
// it rejects duplicate keys (a bad merge would otherwise silently keep the last text), values
// that are not strings, empty texts and trailing data.
func parseCatalog(raw []byte) (catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: want a JSON object of strings", ErrBadCatalog)
	}
	c := catalog{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadCatalog, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%w: want a key, got %v", ErrBadCatalog, tok)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: key %q: %w", ErrBadCatalog, key, err)
		}
		text, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%w: key %q: value is not a string", ErrBadCatalog, key)
		}
		if key == "" || strings.TrimSpace(text) == "" {
			return nil, fmt.Errorf("%w: key %q: empty key or text", ErrBadCatalog, key)
		}
		if _, dup := c[key]; dup {
			return nil, fmt.Errorf("%w: key %q appears twice", ErrBadCatalog, key)
		}
		c[key] = text
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, fmt.Errorf("%w: unterminated object", ErrBadCatalog)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the object", ErrBadCatalog)
	}
	return c, nil
}

// compareCatalogs reports every key that one catalog has and another lacks, and every key
// whose texts take a different number of arguments in different languages (the caller passes
// the same arguments whatever the language).
func compareCatalogs(cats map[string]catalog) error {
	union := map[string]bool{}
	for _, c := range cats {
		for k := range c {
			union[k] = true
		}
	}
	var problems []error
	for _, lang := range Languages() {
		var missing []string
		for k := range union {
			if _, ok := cats[lang][k]; !ok {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			problems = append(problems, fmt.Errorf("%w: locales/%s.json lacks %s", ErrCatalogMismatch, lang, strings.Join(missing, ", ")))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(union)) {
		want, wantLang := -1, ""
		for _, lang := range Languages() {
			text, ok := cats[lang][k]
			if !ok {
				continue
			}
			n := argCount(text)
			if want < 0 {
				want, wantLang = n, lang
				continue
			}
			if n != want {
				problems = append(problems, fmt.Errorf("%w: %q takes %d arguments in %s but %d in %s", ErrCatalogMismatch, k, want, wantLang, n, lang))
			}
		}
	}
	return errors.Join(problems...)
}

// argCount returns how many arguments the fmt format s consumes: the highest argument index
// it uses, counting explicit indexes (%[2]s, which a translation may need to reorder
// arguments) and '*' widths. %% consumes none.
func argCount(s string) int {
	used, next := 0, 0
	use := func() {
		next++
		if next > used {
			used = next
		}
	}
	index := func(i int) int {
		if i < len(s) && s[i] == '[' {
			if j := strings.IndexByte(s[i:], ']'); j > 0 {
				if n, err := strconv.Atoi(s[i+1 : i+j]); err == nil && n > 0 {
					next = n - 1
				}
				return i + j + 1
			}
		}
		return i
	}
	number := func(i int) int {
		i = index(i)
		if i < len(s) && s[i] == '*' {
			use()
			return i + 1
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i
	}
	for i := 0; i < len(s); {
		if s[i] != '%' {
			i++
			continue
		}
		i++
		if i < len(s) && s[i] == '%' {
			i++
			continue
		}
		for i < len(s) && strings.IndexByte("+-# 0", s[i]) >= 0 {
			i++
		}
		i = number(i)
		if i < len(s) && s[i] == '.' {
			i = number(i + 1)
		}
		i = index(i)
		if i < len(s) {
			_, size := utf8.DecodeRuneInString(s[i:])
			use()
			i += size
		}
	}
	return used
}

// message formats key's text in catalog c with args. An unknown key gives the key itself: a
// visible, harmless placeholder is better than failing a sign-in page over a missing
// translation, and Load has already checked every key it can.
func (c catalog) message(key string, args []any) string {
	text, ok := c[key]
	if !ok {
		return key
	}
	return fmt.Sprintf(text, args...)
}

// flatten lets a template pass a view model's []any as the arguments: {{t .ErrorKey
// .ErrorArgs}} arrives as one []any argument.
func flatten(args []any) []any {
	if len(args) == 1 {
		if a, ok := args[0].([]any); ok {
			return a
		}
	}
	return args
}
