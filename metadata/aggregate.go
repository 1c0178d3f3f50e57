package metadata

import (
	"bytes"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/beevik/etree"

	"github.com/ateaidp/atea/metadata/xmlgate"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

// Large signed aggregates (issue 6, "Scale"): a federation such as eduGAIN publishes one signed
// EntitiesDescriptor of ~200 MB. The DOM path (xmlgate.Check, then etree + goxmldsig, then
// encoding/xml) needs tens of seconds and gigabytes for it. The stream path verifies it in one
// pass with no DOM (xmlsig.VerifyEnvelopedStream) and then reads the entities with the same
// tokenizer (xmlsig.Scan), each entity's element parsed and validated by a bounded pool of
// workers with the same rules as Parse (parser.build), so the result is the same.
//
// Whatever the stream path does not handle (xmlsig.IsStreamFallback) goes to the DOM path,
// which decides: the stream path never accepts what the DOM path would refuse.
//
// Cost (a 50,000-entity, 200 MB aggregate, `atea bench metadata`): reading the entities is
// most of it, and parsing 100,000 certificates is most of that. So the scan builds each
// entity's tree while it tokenises the document for the global rules (xmlsig.ScanTrees: one
// tokenisation, not two; node memory recycled, short strings interned), the workers only
// validate, certificate texts are decoded straight from the document (decodeCertText) and a
// text met again is not parsed again (certCache).

// verifyStream is the stream half of verifyRemoteDocument. fallback reports that the DOM path
// must decide.
func verifyStream(raw []byte, anchors []*x509.Certificate, lim xmlgate.Limits, now time.Time) (vd verifiedRemoteDoc, fallback bool, err error) {
	root, err := xmlsig.VerifyEnvelopedStream(raw, lim, anchors)
	if err != nil {
		if errors.Is(err, xmlgate.ErrTooLarge) {
			return verifiedRemoteDoc{}, false, fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		if xmlsig.IsStreamFallback(err) {
			return verifiedRemoteDoc{}, true, nil
		}
		return verifiedRemoteDoc{}, false, fmt.Errorf("%w: %w", ErrUntrusted, err)
	}
	if root.Space != nsMD || (root.Local != "EntityDescriptor" && root.Local != "EntitiesDescriptor") {
		return verifiedRemoteDoc{}, false, fmt.Errorf("%w (found {%s}%s)", ErrNotMetadata, clip(root.Space, 100), clip(root.Local, 100))
	}
	attrs := streamAttrs(root.Attrs)
	// raw as it came is what was verified: parseStream reads it with the verifier's tokenizer
	// and leaves the enveloped signature out.
	vd = verifiedRemoteDoc{raw: raw, limits: lim}
	if vd.validUntil, err = timeAttr(attrs, "validUntil"); err != nil {
		return verifiedRemoteDoc{}, false, fmt.Errorf("metadata: %s: %w", root.Local, err)
	}
	if !vd.validUntil.IsZero() && !vd.validUntil.After(now) {
		return vd, false, fmt.Errorf("%w (%s)", ErrDocumentExpired, vd.validUntil.UTC().Format(time.RFC3339))
	}
	if v, ok := attr(attrs, "cacheDuration"); ok {
		vd.cacheDuration, _ = parseXSDuration(v)
	}
	return vd, false, nil
}

// verifyRemoteDocumentDOM is the DOM path of verifyRemoteDocument: xmlgate, then goxmldsig
// through xmlsig.VerifyEnveloped; only the verified element, serialised again, is kept.
func verifyRemoteDocumentDOM(raw []byte, anchors []*x509.Certificate, maxBytes int64, now time.Time, clock func() time.Time) (verifiedRemoteDoc, error) {
	lim := sourceLimits(maxBytes)
	if err := xmlgate.Check(raw, lim); err != nil {
		if errors.Is(err, xmlgate.ErrTooLarge) {
			return verifiedRemoteDoc{}, fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		return verifiedRemoteDoc{}, fmt.Errorf("metadata: %w", err)
	}
	el, err := xmlsig.VerifyEnveloped(raw, anchors, clock)
	if err != nil {
		return verifiedRemoteDoc{}, fmt.Errorf("%w: %w", ErrUntrusted, err)
	}
	if el.NamespaceURI() != nsMD || (el.Tag != "EntityDescriptor" && el.Tag != "EntitiesDescriptor") {
		return verifiedRemoteDoc{}, fmt.Errorf("%w (found {%s}%s)", ErrNotMetadata, clip(el.NamespaceURI(), 100), clip(el.Tag, 100))
	}
	attrs := plainAttrs(el)
	vd := verifiedRemoteDoc{limits: lim}
	if vd.validUntil, err = timeAttr(attrs, "validUntil"); err != nil {
		return verifiedRemoteDoc{}, fmt.Errorf("metadata: %s: %w", el.Tag, err)
	}
	if !vd.validUntil.IsZero() && !vd.validUntil.After(now) {
		return vd, fmt.Errorf("%w (%s)", ErrDocumentExpired, vd.validUntil.UTC().Format(time.RFC3339))
	}
	if v, ok := attr(attrs, "cacheDuration"); ok {
		// A malformed hint is ignored rather than fatal: it only schedules the next refresh,
		// and Interval still applies.
		vd.cacheDuration, _ = parseXSDuration(v)
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	if vd.raw, err = doc.WriteToBytes(); err != nil {
		return verifiedRemoteDoc{}, fmt.Errorf("metadata: serialising the verified document: %w", err)
	}
	// The canonical form can be somewhat larger than what was sent (<a/> becomes <a></a>).
	vd.limits.MaxBytes = 2 * lim.MaxBytes
	return vd, nil
}

// parseWithLimitsDOM is the encoding/xml path of parseWithLimits.
func parseWithLimitsDOM(raw []byte, now time.Time, lim xmlgate.Limits) ([]*SP, []error, error) {
	if err := xmlgate.Check(raw, lim); err != nil {
		return nil, nil, fmt.Errorf("metadata: %w", err)
	}
	d := xml.NewDecoder(bytes.NewReader(raw))
	start, err := rootElement(d)
	if err != nil {
		return nil, nil, err
	}
	p := &parser{now: now, seen: map[string]bool{}}
	switch start.Name {
	case xml.Name{Space: nsMD, Local: "EntityDescriptor"}:
		err = p.entity(d, start, time.Time{})
	case xml.Name{Space: nsMD, Local: "EntitiesDescriptor"}:
		err = p.entities(d, start, time.Time{})
	default:
		return nil, nil, fmt.Errorf("%w (found {%s}%s)", ErrNotMetadata, clip(start.Name.Space, 100), clip(start.Name.Local, 100))
	}
	if err != nil {
		return nil, nil, err
	}
	return p.sps, p.problems, nil
}

// parseStream reads the entities of raw (a document verified by verifyStream, or any metadata)
// with xmlsig.ScanTrees under lim: EntitiesDescriptors are walked in document order (their
// validUntil bounds what is inside, saml-metadata-2.0-os §2.3.1), each EntityDescriptor is
// parsed and validated by a worker, and the results are merged in document order (the first
// of two equal entityIDs wins, as in Parse). Errors for which xmlsig.IsStreamFallback holds
// mean the DOM path must decide.
func parseStream(raw []byte, now time.Time, lim xmlgate.Limits) ([]*SP, []error, error) {
	p := &parser{now: now}
	workers := max(1, runtime.GOMAXPROCS(0))
	h := &aggHandler{jobs: make(chan aggJob, 8*workers)}
	out := make([][]aggResult, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// tp parses a capture that came without its tree (none does from ScanTrees; it
			// costs nothing unused); cc is this worker's certificate cache.
			var tp xmlsig.TreeParser
			// About two certificates in 4 KB of aggregate, shared by the workers.
			cc := newCertCache(min(len(raw)/2048/workers, 1<<18))
			for j := range h.jobs {
				out[w] = append(out[w], p.streamEntity(&tp, cc, raw, j))
			}
		}()
	}
	// The scan builds each entity's tree as it tokenises it (the global rules need the whole
	// pass anyway); the workers validate trees and parse certificates.
	err := xmlsig.ScanTrees(raw, lim, h)
	close(h.jobs)
	wg.Wait()
	if err != nil {
		return nil, nil, err
	}
	n := 0
	for _, rs := range out {
		n += len(rs)
	}
	all := make([]aggResult, 0, n)
	for _, rs := range out {
		all = append(all, rs...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seq < all[j].seq })
	seen := make(map[string]bool, len(all))
	sps := make([]*SP, 0, len(all))
	var problems []error
	for _, r := range all {
		switch {
		case r.fatal != nil:
			return nil, nil, r.fatal
		case r.err != nil:
			problems = append(problems, &EntityError{EntityID: r.id, Err: r.err})
		case seen[r.id]:
			problems = append(problems, &EntityError{EntityID: r.id, Err: errDuplicateEntity})
		default:
			seen[r.id] = true
			sps = append(sps, r.sp)
		}
	}
	if len(sps) == 0 {
		sps = nil // as Parse returns it
	}
	return sps, problems, nil
}

type aggJob struct {
	c     xmlsig.Captured
	bound time.Time
}

type aggResult struct {
	seq   int
	id    string
	sp    *SP
	err   error // the entity is skipped
	fatal error // the document is not used
}

// streamEntity parses and validates one captured EntityDescriptor with tp and cc.
func (p *parser) streamEntity(tp *xmlsig.TreeParser, cc *certCache, raw []byte, j aggJob) aggResult {
	n := j.c.Tree
	if n == nil {
		var err error
		if n, err = tp.Parse(raw, j.c); err != nil {
			// Scan accepted these bytes with the same tokenizer: this is a bug, not input.
			return aggResult{seq: j.c.Seq, fatal: fmt.Errorf("metadata: entity %d: %w", j.c.Seq, err)}
		}
	}
	x := entityFromNode(n, cc) // copies what it keeps: the tree can go back
	j.c.Release()
	id, _ := attr(x.Attrs, "entityID")
	sp, err := p.build(&x, id, j.bound)
	return aggResult{seq: j.c.Seq, id: id, sp: sp, err: err}
}

// aggHandler walks the EntitiesDescriptors for xmlsig.Scan and hands each EntityDescriptor to
// the workers.
type aggHandler struct {
	bounds    []time.Time // validUntil bound of each open EntitiesDescriptor
	capBounds []time.Time // bound of each capture, by Seq
	jobs      chan aggJob
}

func (h *aggHandler) Start(e *xmlsig.Element) (xmlsig.Action, error) {
	isMD := e.Space == nsMD
	switch {
	case isMD && e.Local == "EntityDescriptor":
		var b time.Time
		if len(h.bounds) > 0 {
			b = h.bounds[len(h.bounds)-1]
		}
		h.capBounds = append(h.capBounds, b)
		return xmlsig.Capture, nil
	case isMD && e.Local == "EntitiesDescriptor":
		vu, err := timeAttr(streamAttrs(e.Attrs), "validUntil")
		if err != nil {
			return 0, fmt.Errorf("metadata: EntitiesDescriptor: %w", err)
		}
		var b time.Time
		if len(h.bounds) > 0 {
			b = h.bounds[len(h.bounds)-1]
		}
		h.bounds = append(h.bounds, earliest(b, vu))
		return xmlsig.Descend, nil
	case e.Depth == 1:
		return 0, fmt.Errorf("%w (found {%s}%s)", ErrNotMetadata, clip(e.Space, 100), clip(e.Local, 100))
	}
	return xmlsig.Skip, nil // ds:Signature, md:Extensions, …
}

func (h *aggHandler) End(int) { h.bounds = h.bounds[:len(h.bounds)-1] }

func (h *aggHandler) Captured(c xmlsig.Captured) {
	h.jobs <- aggJob{c: c, bound: h.capBounds[c.Seq]}
}

// streamAttrs converts attributes to encoding/xml's form (Space is the namespace URI there
// too), for attr and timeAttr.
func streamAttrs(in []xmlsig.Attr) []xml.Attr {
	if len(in) == 0 {
		return nil
	}
	out := make([]xml.Attr, len(in))
	for i, a := range in {
		out[i] = xml.Attr{Name: xml.Name{Space: a.Space, Local: a.Local}, Value: a.Value}
	}
	return out
}

// entityFromNode fills the encoding/xml view of an EntityDescriptor (xEntity) from a parsed
// element exactly as xml.Decoder.DecodeElement would: children matched by namespace URI and
// local name, a repeated element of a non-slice field decoded into the same value, strings
// from the character data directly inside an element.
func entityFromNode(n *xmlsig.Node, cc *certCache) xEntity {
	x := xEntity{Attrs: streamAttrs(n.Attrs)}
	for _, k := range n.Kids {
		if k.Space != nsMD {
			continue
		}
		switch k.Local {
		case "Extensions":
			extensionsFromNode(&x.Extensions, k)
		case "SPSSODescriptor":
			x.SPSSO = append(x.SPSSO, spssoFromNode(k, cc))
		}
	}
	return x
}

// extensionsFromNode decodes an md:Extensions into *dst, allocating it on the first one: a
// repeated md:Extensions adds to the same value, as DecodeElement does with a pointer field.
func extensionsFromNode(dst **xExtensions, n *xmlsig.Node) {
	if *dst == nil {
		*dst = &xExtensions{}
	}
	x := *dst
	for _, ui := range n.Kids {
		if ui.Space != nsMDUI || ui.Local != "UIInfo" {
			continue
		}
		var u xUIInfo
		for _, dn := range ui.Kids {
			if dn.Space == nsMDUI && dn.Local == "DisplayName" {
				u.DisplayNames = append(u.DisplayNames, xLocalized{Attrs: streamAttrs(dn.Attrs), Value: dn.Text()})
			}
		}
		x.UIInfo = append(x.UIInfo, u)
	}
}

func spssoFromNode(n *xmlsig.Node, cc *certCache) xSPSSO {
	x := xSPSSO{Attrs: streamAttrs(n.Attrs)}
	for _, k := range n.Kids {
		if k.Space != nsMD {
			continue
		}
		switch k.Local {
		case "Extensions":
			extensionsFromNode(&x.Extensions, k)
		case "KeyDescriptor":
			kd := xKeyDescriptor{Attrs: streamAttrs(k.Attrs)}
			for _, ki := range k.Kids {
				if ki.Space != nsDS || ki.Local != "KeyInfo" {
					continue
				}
				var xi xKeyInfo
				for _, xd := range ki.Kids {
					if xd.Space != nsDS || xd.Local != "X509Data" {
						continue
					}
					d := xX509Data{cache: cc}
					for _, c := range xd.Kids {
						if c.Space == nsDS && c.Local == "X509Certificate" {
							d.certViews = append(d.certViews, c.TextBytes())
						}
					}
					xi.X509Data = append(xi.X509Data, d)
				}
				kd.KeyInfo = append(kd.KeyInfo, xi)
			}
			x.Keys = append(x.Keys, kd)
		case "NameIDFormat":
			x.NameIDFormats = append(x.NameIDFormats, k.Text())
		case "AssertionConsumerService":
			x.ACS = append(x.ACS, xEndpoint{Attrs: streamAttrs(k.Attrs)})
		case "SingleLogoutService":
			x.SLO = append(x.SLO, xEndpoint{Attrs: streamAttrs(k.Attrs)})
		}
	}
	return x
}

// certCache remembers, for one worker during one load, the certificates parsed from each
// X509Certificate text: the same certificate often appears several times in an aggregate
// (signing and encryption, an operator's many SPs), and parsing is most of the cost of an
// entity. Texts are compared whole, so a hit returns exactly what parseCerts would; only
// successful parses are kept. The certificates are then shared between SPs, which never
// modify them.
//
// The key is cheap (the length and the last bytes, which are those of the signature) rather
// than a hash of the whole text: the cache must cost next to nothing when every certificate
// differs. Texts made to share a key only get a few entries (certCacheChain), so they cannot
// make look-ups slow.
type certCache struct {
	m map[uint64][]certCacheEntry
}

type certCacheEntry struct {
	text  []byte // a view of the verified document, or a copy
	certs []*x509.Certificate
}

const certCacheChain = 4

// newCertCache sizes the cache for about n certificates.
func newCertCache(n int) *certCache {
	return &certCache{m: make(map[uint64][]certCacheEntry, n)}
}

func certCacheKey(text []byte) uint64 {
	t := bytes.TrimRight(text, " \t\r\n")
	k := uint64(len(text))
	for i := max(0, len(t)-7); i < len(t); i++ {
		k = k<<8 | uint64(t[i])
	}
	return k ^ uint64(len(t))<<48
}

// parse is parseCerts(text), from the cache when text was parsed before. A nil cache parses.
func (c *certCache) parse(text []byte) ([]*x509.Certificate, error) {
	if c == nil {
		return parseCerts(text)
	}
	k := certCacheKey(text)
	chain := c.m[k]
	for _, e := range chain {
		if bytes.Equal(e.text, text) {
			return e.certs, nil
		}
	}
	certs, err := parseCerts(text)
	if err != nil {
		return nil, err
	}
	if len(chain) < certCacheChain {
		c.m[k] = append(chain, certCacheEntry{text: text, certs: certs})
	}
	return certs, nil
}
