package metadata

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ateaidp/atea/metadata/xmlsig"
)

// aggregateCases are metadata documents for comparing the stream path with the DOM path.
func aggregateCases(t *testing.T) map[string]string {
	t.Helper()
	sp := func(id, acs string) string { return remoteSPXML(t, id, "sp-rsa2048.crt", acs) }
	return map[string]string{
		"aggregate": remoteAggregateXML(remoteValidFor(24*time.Hour),
			sp("https://a.example/sp", "https://a.example/acs"), remoteIdPXML,
			sp("https://b.example/sp", "https://b.example/acs")),
		"duplicate and invalid entities": remoteAggregateXML("",
			sp("https://a.example/sp", "https://a.example/acs"),
			sp("https://a.example/sp", "https://a.example/other"),
			sp("https://c.example/sp", "http://c.example/acs")),
		"nested with validUntil": remoteAggregateXML(remoteValidFor(48*time.Hour),
			`<EntitiesDescriptor `+remoteValidFor(2*time.Hour)+`>`+sp("https://n.example/sp", "https://n.example/acs")+`</EntitiesDescriptor>`,
			`<Extensions><EntityDescriptor entityID="https://hidden.example/sp"/></Extensions>`),
		"expired entity": remoteAggregateXML("", strings.Replace(sp("https://e.example/sp", "https://e.example/acs"),
			`<EntityDescriptor `, `<EntityDescriptor validUntil="2001-01-01T00:00:00Z" `, 1)),
		"mdui, formats, references": remoteAggregateXML("", strings.Replace(sp("https://m.example/sp?a=1&amp;b=2", "https://m.example/acs?x=1&amp;y=2"),
			`<KeyDescriptor`, `<Extensions><mdui:UIInfo xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui"><mdui:DisplayName xml:lang="ES">  Servicio &amp; más </mdui:DisplayName><mdui:DisplayName xml:lang="en"><![CDATA[A <b> service]]></mdui:DisplayName></mdui:UIInfo></Extensions>
   <NameIDFormat> urn:oasis:names:tc:SAML:2.0:nameid-format:persistent </NameIDFormat><!-- c --><KeyDescriptor`, 1)),
		// SingleLogoutService endpoints, and one certificate used for signing and
		// encryption by two entities (the stream path's certCache hands out the same
		// certificates again).
		"slo and shared certificates": remoteAggregateXML("",
			strings.Replace(sp("https://s1.example/sp", "https://s1.example/acs"), `<AssertionConsumerService`,
				`<KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>`+b64(loadCert(t, "sp-rsa2048.crt"))+`</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>
   <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://s1.example/slo" ResponseLocation="https://s1.example/slo-resp"/>
   <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://s1.example/art"/>
   <AssertionConsumerService`, 1),
			strings.Replace(sp("https://s2.example/sp", "https://s2.example/acs"), `<AssertionConsumerService`,
				`<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://s2.example/soap"/><AssertionConsumerService`, 1),
			strings.Replace(sp("https://s3.example/sp", "https://s3.example/acs"), `<AssertionConsumerService`,
				`<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http://s3.example/slo"/><AssertionConsumerService`, 1)),
		"single entity root": `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="one" entityID="https://single.example/sp">
  <SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true">
   <KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + b64(loadCert(t, "sp-rsa2048.crt")) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>
   <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://single.example/acs" index="3" isDefault="false"/>
   <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://single.example/acs2" index="4"/>
  </SPSSODescriptor>
 </EntityDescriptor>`,
	}
}

func TestStreamPathEqualsDOMPath(t *testing.T) {
	s := remoteTestSigner(t, "anchor-a")
	anchors := []*x509.Certificate{s.cert}
	for name, doc := range aggregateCases(t) {
		t.Run(name, func(t *testing.T) {
			raw := signRemoteXML(t, s, doc)
			lim := sourceLimits(DefaultRemoteMaxBytes)
			vd, fallback, err := verifyStream(raw, anchors, lim, testNow())
			if err != nil || fallback {
				t.Fatalf("verifyStream: fallback=%v err=%v", fallback, err)
			}
			dvd, err := verifyRemoteDocumentDOM(raw, anchors, DefaultRemoteMaxBytes, testNow(), testNow)
			if err != nil {
				t.Fatal(err)
			}
			if vd.validUntil != dvd.validUntil || vd.cacheDuration != dvd.cacheDuration {
				t.Errorf("root: stream %v/%v, DOM %v/%v", vd.validUntil, vd.cacheDuration, dvd.validUntil, dvd.cacheDuration)
			}
			sps, problems, err := parseStream(vd.raw, testNow(), vd.limits)
			if err != nil {
				t.Fatalf("parseStream: %v", err)
			}
			dsps, dproblems, err := parseWithLimitsDOM(dvd.raw, testNow(), dvd.limits)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sps, dsps) {
				t.Errorf("SPs differ:\nstream %+v\n   DOM %+v", sps, dsps)
			}
			if fmt.Sprint(problems) != fmt.Sprint(dproblems) {
				t.Errorf("problems differ:\nstream %v\n   DOM %v", problems, dproblems)
			}
			if len(sps) == 0 && name != "expired entity" {
				t.Errorf("no SPs")
			}
		})
	}
}

// TestStreamPathRefuses: a tampered document is refused by the stream path itself, and a
// construct it does not handle goes to the DOM path, which decides.
func TestStreamPathRefuses(t *testing.T) {
	s := remoteTestSigner(t, "anchor-a")
	anchors := []*x509.Certificate{s.cert}
	raw := signRemoteXML(t, s, aggregateCases(t)["aggregate"])
	lim := sourceLimits(DefaultRemoteMaxBytes)

	tampered := []byte(strings.Replace(string(raw), "https://b.example/acs", "https://evil.example/acs", 1))
	if _, fb, err := verifyStream(tampered, anchors, lim, testNow()); fb || !errors.Is(err, ErrUntrusted) || !errors.Is(err, xmlsig.ErrSignature) {
		t.Errorf("tampered: fallback=%v err=%v; want ErrUntrusted", fb, err)
	}
	if _, err := verifyRemoteDocument(tampered, anchors, DefaultRemoteMaxBytes, testNow(), testNow); !errors.Is(err, ErrUntrusted) {
		t.Errorf("verifyRemoteDocument(tampered) = %v; want ErrUntrusted", err)
	}
	stranger := remoteTestSigner(t, "stranger")
	if _, _, err := verifyStream(raw, []*x509.Certificate{stranger.cert}, lim, testNow()); !errors.Is(err, ErrUntrusted) {
		t.Errorf("other anchor: err = %v; want ErrUntrusted", err)
	}
	doctype := append([]byte("<!DOCTYPE x>"), raw...)
	if _, err := verifyRemoteDocument(doctype, anchors, DefaultRemoteMaxBytes, testNow(), testNow); err == nil {
		t.Error("DOCTYPE accepted")
	}
	// A literal line break in an attribute: the stream path does not canonicalise it; the DOM
	// path decides (here: the signature, made by goxmldsig over the same bytes, verifies).
	nl := signRemoteXML(t, s, strings.Replace(aggregateCases(t)["aggregate"], `Name="urn:example:federation"`, "Name=\"urn:example:\nfederation\"", 1))
	if _, fb, _ := verifyStream(nl, anchors, lim, testNow()); !fb {
		t.Error("literal newline in an attribute: want fallback")
	}
	if _, err := verifyRemoteDocument(nl, anchors, DefaultRemoteMaxBytes, testNow(), testNow); err != nil {
		t.Errorf("verifyRemoteDocument with fallback: %v", err)
	}
}

// snapshotOf builds a snapshot of n synthetic SPs.
func snapshotOf(n int, tag string) *snapshot {
	sps := make([]*SP, n)
	for i := range sps {
		sps[i] = &SP{EntityID: fmt.Sprintf("https://sp%06d.example.org/%s", i, tag)}
	}
	return remoteSnapshot(sps, testNow(), remoteLogger(nil))
}

// BenchmarkLookup shows that a lookup by entityID costs the same with 1,000 and with 50,000
// entities (a map in an immutable snapshot).
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{1000, 50000} {
		snap := snapshotOf(n, "x")
		id := fmt.Sprintf("https://sp%06d.example.org/x", n/2)
		now := testNow()
		b.Run(fmt.Sprintf("entities=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := lookupSnapshot(snap, id, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRefreshSwapsAtomically: while lookups run, refreshes replace one document (entities
// tagged "a") by another (tagged "b") and back. Every Entities() call sees one whole document,
// never a mixture, and an entity present in both never fails to resolve. Run with -race.
func TestRefreshSwapsAtomically(t *testing.T) {
	signer := remoteTestSigner(t, "anchor-a")
	doc := func(tag string) []byte {
		var es []string
		for i := range 20 {
			es = append(es, remoteSPXML(t, fmt.Sprintf("https://sp%d.example/%s", i, tag), "sp-rsa2048.crt", "https://sp.example/acs"))
		}
		es = append(es, remoteSPXML(t, "https://common.example/sp", "sp-rsa2048.crt", "https://common.example/acs-"+tag))
		return signRemoteXML(t, signer, remoteAggregateXML("", es...))
	}
	docA, docB := doc("a"), doc("b")
	srv := newRemoteServer(t, docA)
	src, err := NewURLSource(URLOptions{URL: srv.URL, TrustAnchors: []*x509.Certificate{signer.cert}, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var lookups atomic.Int64
	errs := make(chan error, 4)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := src.Lookup("https://common.example/sp"); err != nil {
					errs <- fmt.Errorf("lookup during refresh: %w", err)
					return
				}
				es := src.Entities()
				tag := ""
				for _, sp := range es {
					if sp.EntityID == "https://common.example/sp" {
						continue
					}
					if tg := sp.EntityID[len(sp.EntityID)-1:]; tag == "" {
						tag = tg
					} else if tg != tag {
						errs <- errors.New("a snapshot mixes two documents")
						return
					}
				}
				if len(es) != 21 {
					errs <- fmt.Errorf("snapshot of %d entities; want 21", len(es))
					return
				}
				lookups.Add(1)
			}
		}()
	}
	for i := range 10 {
		body, etag := docB, `"b"`
		if i%2 == 1 {
			body, etag = docA, `"a"`
		}
		srv.publish(body, etag+fmt.Sprint(i))
		if err := src.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if lookups.Load() == 0 {
		t.Error("no lookup ran during the refreshes")
	}
}
