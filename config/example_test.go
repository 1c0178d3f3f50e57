package config

import (
	"bufio"
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/viper"
)

const examplePath = "atea.example.yaml"

// The documented example must load and validate as it stands.
func TestExampleValidates(t *testing.T) {
	t.Parallel()
	c, err := Load(examplePath, nil)
	if err != nil {
		t.Fatalf("Load(%s) = %v", examplePath, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() of %s = %v", examplePath, err)
	}
	// It is "written with the defaults": apart from its example SP entry, it is Default().
	c.ServiceProviders = nil
	if diff := cmp.Diff(Default(), c); diff != "" {
		t.Errorf("%s, without serviceProviders, differs from Default() (-want +got):\n%s", examplePath, diff)
	}
	if len(Default().ServiceProviders) != 0 {
		t.Error("Default() has service providers; the example's entry would hide them")
	}
}

// Every setting of Default(), and every field of a serviceProviders entry, appears in the
// example, so a new setting cannot be added without documenting it.
func TestExampleHasEveryKey(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	// A bare viper, without Atea's defaults: only what the file itself says.
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	for _, l := range settingLeaves(Default()) {
		if !v.InConfig(l.key) {
			t.Errorf("%s does not set %s", examplePath, l.key)
		}
	}
	items, _ := v.Get("serviceProviders").([]any)
	if len(items) == 0 {
		t.Fatalf("%s has no example serviceProviders entry", examplePath)
	}
	first, _ := items[0].(map[string]any)
	for _, name := range knownChildren()["serviceproviders[]"] {
		if _, ok := first[strings.ToLower(name)]; !ok {
			t.Errorf("%s: the example serviceProviders entry does not set %s", examplePath, name)
		}
	}
}

// Every key line that sets a value has a comment just above it. Section headers ("saml:")
// are documented by their children; the classMapping entries by the comment on the list.
func TestExampleCommentsEveryKey(t *testing.T) {
	t.Parallel()
	f, err := os.Open(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keyLine := regexp.MustCompile(`^\s*(- )?([A-Za-z][A-Za-z0-9]*):(.*)$`)
	prev := ""
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if m := keyLine.FindStringSubmatch(line); m != nil {
			value := strings.TrimSpace(m[3])
			isHeader := value == "" || strings.HasPrefix(value, "#")
			if !isHeader && !strings.HasPrefix(prev, "#") {
				t.Errorf("%s:%d: key %s has no comment above it", examplePath, n, m[2])
			}
		}
		if trimmed != "" {
			prev = trimmed
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}
