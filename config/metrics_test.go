package config

import (
	"strings"
	"testing"
)

// TestValidateMetricsListen: metrics.listen is off by default, a host:port when set, and never
// the public listener.
func TestValidateMetricsListen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		listen string
		want   string // "" for valid
	}{
		{"", ""},
		{"127.0.0.1:9464", ""},
		{"[::1]:9464", ""},
		{"127.0.0.1", "metrics.listen"},
		{"127.0.0.1:99999", "metrics.listen"},
		{"127.0.0.1:8080", "must differ from listen"},
	}
	for _, tc := range tests {
		c := Default()
		c.Metrics.Listen = tc.listen
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("metrics.listen %q: %v, want valid", tc.listen, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("metrics.listen %q: %v, want an error with %q", tc.listen, err, tc.want)
		}
	}
	if Default().Metrics.Listen != "" {
		t.Error("metrics listener on by default")
	}
}

// TestMetadataCacheFile: a url source's cache defaults to <dataDir>/metadata-cache/<name>.xml
// with the name made safe, and may not be in the SP-metadata directory or shared.
func TestMetadataCacheFile(t *testing.T) {
	t.Parallel()
	c := Default()
	c.DataDir = "/var/lib/atea"
	c.SPMetadata.Sources = []MetadataSource{
		{Name: "../fed one", Type: "url", URL: "https://md.example.org/agg.xml", TrustAnchorsFile: "/etc/atea/fed.pem"},
		{Name: "other", Type: "url", URL: "https://md.example.org/other.xml", TrustAnchorsFile: "/etc/atea/fed.pem"},
	}
	if got, want := c.MetadataCacheFile(0), "/var/lib/atea/metadata-cache/_fed_one.xml"; got != want {
		t.Errorf("MetadataCacheFile(0) = %q, want %q", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	c.SPMetadata.Sources[1].CacheFile = "/var/lib/atea/sp-metadata/other.xml"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "sources[1].cacheFile: must not be in the SP-metadata directory") {
		t.Errorf("cache in the SP-metadata directory: %v", err)
	}
	c.SPMetadata.Sources[1].CacheFile = c.MetadataCacheFile(0)
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "used by two sources") {
		t.Errorf("shared cache file: %v", err)
	}
}
