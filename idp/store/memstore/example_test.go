package memstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/memstore"
)

// The replay cache: the first sight of an AuthnRequest ID wins, a replay within the TTL does
// not.
func ExampleStore_Consume() {
	st := memstore.New(nil)
	defer st.Close()
	ctx := context.Background()
	for range 2 {
		first, err := st.Consume(ctx, "authnreq:<hash of issuer and ID>", 10*time.Minute)
		fmt.Println(first, err)
	}
	// Output:
	// true <nil>
	// false <nil>
}

// Expiry follows the injected clock; GC then reclaims the memory.
func ExampleNew() {
	now := time.Date(2031, time.March, 4, 5, 0, 0, 0, time.UTC)
	st := memstore.New(func() time.Time { return now })
	defer st.Close()
	ctx := context.Background()

	_ = st.CreateSession(ctx, store.Session{ID: "s_1", UserID: "u1", ExpiresAt: now.Add(8 * time.Hour)})
	_, err := st.GetSession(ctx, "s_1")
	fmt.Println(err)

	now = now.Add(8 * time.Hour)
	_, err = st.GetSession(ctx, "s_1")
	fmt.Println(err)
	st.GC(now)
	// Output:
	// <nil>
	// memstore: get session: store: not found
}
