package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMetadataTools: list and show read the SP-metadata directory as serve does; diff names
// the entity added and the one whose keys changed, as text and as JSON.
func TestMetadataTools(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	md := filepath.Join(data, "sp-metadata")
	if err := os.MkdirAll(md, 0o755); err != nil {
		t.Fatal(err)
	}
	newCLISP(t, "sp-one", nil, md)
	old, err := os.ReadFile(filepath.Join(md, "sp-one.xml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "", "metadata", "list", "--data", data)
	if err != nil || !strings.Contains(out, "https://sp-one.test/saml/metadata") || !strings.Contains(out, "1 service providers") {
		t.Fatalf("metadata list = %q, %v", out, err)
	}
	out, err = runCLI(t, "", "metadata", "show", "https://sp-one.test/saml/metadata", "--data="+data, "--json")
	if err != nil {
		t.Fatalf("metadata show: %v", err)
	}
	var v spView
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.SigningKeys)+len(v.EncryptionKeys) == 0 || len(v.ACS) == 0 {
		t.Fatalf("metadata show --json = %q (%v)", out, err)
	}
	if _, err := runCLI(t, "", "metadata", "show", "https://nobody.test/", "--data="+data); err == nil {
		t.Error("metadata show of an unknown entity succeeded")
	}

	// The same SP with a new key, and a second SP: diff says so.
	newCLISP(t, "sp-one", nil, md)
	newCLISP(t, "sp-two", nil, md)
	merged := filepath.Join(data, "new.xml")
	one, _ := os.ReadFile(filepath.Join(md, "sp-one.xml"))
	two, _ := os.ReadFile(filepath.Join(md, "sp-two.xml"))
	agg := `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` + strip(string(one)) + strip(string(two)) + `</EntitiesDescriptor>`
	if err := os.WriteFile(merged, []byte(agg), 0o644); err != nil {
		t.Fatal(err)
	}
	oldPath := filepath.Join(data, "old.xml")
	if err := os.WriteFile(oldPath, old, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, "", "metadata", "diff", oldPath, merged)
	if err != nil || !strings.Contains(out, "+ https://sp-two.test/saml/metadata") || !strings.Contains(out, "~ https://sp-one.test/saml/metadata: ") ||
		!strings.Contains(out, "keys") {
		t.Fatalf("metadata diff = %q, %v", out, err)
	}
	if out, err := runCLI(t, "", "metadata", "diff", oldPath, oldPath, "--json"); err != nil || !strings.Contains(out, `"Added": null`) {
		t.Errorf("metadata diff of a file with itself --json = %q, %v", out, err)
	}
}

// strip drops an XML declaration so documents can be nested.
func strip(s string) string {
	if i := strings.Index(s, "?>"); strings.HasPrefix(s, "<?xml") && i > 0 {
		return s[i+2:]
	}
	return s
}
