package redisstore_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/redisstore"
)

// A Store for several Atea instances sharing one Redis: NewClient builds the client (here a
// single server over TLS with an ACL user; Cluster: true or MasterName for the others), New
// adds the keys. KeySecret and RecordKey come from Atea's secrets, never from the config
// file. New does not connect, so Ping is the readiness check.
//
// Needs a Redis server, so it is compiled but not run.
func ExampleNew() {
	ctx := context.Background()
	var keySecret, recordKey []byte // 32 random bytes each, kept apart (keys.Secrets)

	client, err := redisstore.NewClient(redisstore.ClientConfig{
		Addrs:    []string{"redis.internal:6380"},
		Username: "atea",
		Password: "from the password file",
		TLS:      &tls.Config{MinVersion: tls.VersionTLS12, ServerName: "redis.internal"},
	})
	if err != nil {
		log.Fatal(err)
	}
	st, err := redisstore.New(redisstore.Options{
		Client:    client,
		OwnClient: true, // st.Close closes client
		Prefix:    "atea:",
		KeySecret: keySecret,
		RecordKey: recordKey,
		OpTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		log.Fatal(err) // names every bad option, e.g. a short KeySecret
	}
	defer st.Close()
	if err := st.Ping(ctx); err != nil {
		log.Print(err) // errors.Is(err, redisstore.ErrUnavailable): not ready, serve 503
	}

	// The replay cache: the first instance to see an AuthnRequest ID wins.
	first, err := st.Consume(ctx, "authnreq:<hash of issuer and ID>", 10*time.Minute)
	fmt.Println(first, err)

	_, err = st.GetSession(ctx, "s_<hash of the cookie>")
	fmt.Println(errors.Is(err, store.ErrNotFound))
}
