package metadata

import (
	"context"
	"crypto/x509"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
)

// What an EntityChange can name. They compare what Atea uses from an SP (see SP): the keys
// that verify its requests and encrypt to it, where assertions are sent, and the switches that
// change how requests are checked. validUntil is not compared: federations re-sign daily with
// a new validUntil, so it would mark every entity as changed on every refresh. (SP holds no SLO
// endpoints yet, so they cannot be compared.)
const (
	ChangedSigningKeys    = "signing keys"
	ChangedEncryptionKeys = "encryption keys"
	ChangedACS            = "ACS endpoints"
	ChangedRequestSigning = "AuthnRequestsSigned"
	ChangedNameIDFormats  = "NameID formats"
	ChangedDisplayNames   = "display names"
)

// Changes is the difference between two sets of SPs, as recorded in the audit log on every
// refresh (issue 6: "every refresh records a diff").
type Changes struct {
	// Added and Removed are entityIDs, sorted.
	Added, Removed []string
	// Changed lists the entities present in both whose keys, endpoints or settings differ,
	// sorted by EntityID.
	Changed []EntityChange
}

// EntityChange says what changed in one entity.
type EntityChange struct {
	EntityID string
	// What holds Changed* constants, in the order they are declared.
	What []string
}

// Empty reports whether c records no change.
func (c Changes) Empty() bool { return len(c.Added)+len(c.Removed)+len(c.Changed) == 0 }

// Diff compares two sets of SPs by entityID. Each slice must hold an entityID at most once (as
// every source's Entities does).
func Diff(oldSPs, newSPs []*SP) Changes {
	before := make(map[string]*SP, len(oldSPs))
	for _, sp := range oldSPs {
		before[sp.EntityID] = sp
	}
	after := make(map[string]*SP, len(newSPs))
	for _, sp := range newSPs {
		after[sp.EntityID] = sp
	}
	var c Changes
	for id, sp := range after {
		prev, ok := before[id]
		if !ok {
			c.Added = append(c.Added, id)
			continue
		}
		if what := spChanges(prev, sp); len(what) > 0 {
			c.Changed = append(c.Changed, EntityChange{EntityID: id, What: what})
		}
	}
	for id := range before {
		if _, ok := after[id]; !ok {
			c.Removed = append(c.Removed, id)
		}
	}
	sort.Strings(c.Added)
	sort.Strings(c.Removed)
	sort.Slice(c.Changed, func(i, j int) bool { return c.Changed[i].EntityID < c.Changed[j].EntityID })
	return c
}

func spChanges(a, b *SP) []string {
	if a == b {
		return nil
	}
	var what []string
	if !sameCerts(a.SigningCerts, b.SigningCerts) {
		what = append(what, ChangedSigningKeys)
	}
	if !sameCerts(a.EncryptionCerts, b.EncryptionCerts) {
		what = append(what, ChangedEncryptionKeys)
	}
	da, _ := a.DefaultACS()
	db, _ := b.DefaultACS()
	// Order matters too: it decides the default endpoint (saml-metadata-2.0-os §2.2.3).
	if !slices.Equal(a.ACS, b.ACS) || da != db {
		what = append(what, ChangedACS)
	}
	if a.AuthnRequestsSigned != b.AuthnRequestsSigned {
		what = append(what, ChangedRequestSigning)
	}
	if !slices.Equal(a.NameIDFormats, b.NameIDFormats) {
		what = append(what, ChangedNameIDFormats)
	}
	if !maps.Equal(a.DisplayNames, b.DisplayNames) {
		what = append(what, ChangedDisplayNames)
	}
	return what
}

// sameCerts compares two certificate lists as sets of DER encodings: reordering KeyDescriptors
// changes nothing, since each certificate is tried on its own.
func sameCerts(a, b []*x509.Certificate) bool {
	key := func(cs []*x509.Certificate) []string {
		out := make([]string, 0, len(cs))
		for _, c := range cs {
			out = append(out, string(c.Raw))
		}
		sort.Strings(out)
		return slices.Compact(out)
	}
	return slices.Equal(key(a), key(b))
}

// maxAuditIDs bounds the entityIDs listed per kind in one audit record: a first load of a
// federation aggregate adds thousands, and an audit line must stay a line. The counts are
// always complete.
const maxAuditIDs = 50

// recordRefresh writes the "metadata_refreshed" audit record of a refresh that changed
// something (STYLE.md B5: audit events carry a fixed event attribute).
func recordRefresh(ctx context.Context, audit *slog.Logger, source string, c Changes, total int) {
	if c.Empty() {
		return
	}
	changed := make([]string, 0, min(len(c.Changed), maxAuditIDs))
	for _, ch := range c.Changed[:min(len(c.Changed), maxAuditIDs)] {
		changed = append(changed, clip(ch.EntityID, 200)+" ("+strings.Join(ch.What, ", ")+")")
	}
	truncated := len(c.Added) > maxAuditIDs || len(c.Removed) > maxAuditIDs || len(c.Changed) > maxAuditIDs
	audit.InfoContext(ctx, "metadata_refreshed", "event", "metadata_refreshed", "source", source,
		"entities", total, "added", len(c.Added), "removed", len(c.Removed), "changed", len(c.Changed),
		"added_ids", clipIDs(c.Added), "removed_ids", clipIDs(c.Removed), "changed_ids", changed,
		"truncated", truncated)
}

func clipIDs(ids []string) []string {
	out := make([]string, 0, min(len(ids), maxAuditIDs))
	for _, id := range ids[:min(len(ids), maxAuditIDs)] {
		out = append(out, clip(id, 200))
	}
	return out
}

func sortByEntityID(sps []*SP) {
	sort.Slice(sps, func(i, j int) bool { return sps[i].EntityID < sps[j].EntityID })
}
