package coordcard_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/coordcard"
	"github.com/ateaidp/atea/idp/directory"
)

// Example issues a card at the registration desk, then runs one sign-in's second step.
func Example() {
	ctx := context.Background()
	tmp, _ := os.MkdirTemp("", "coordcard")
	defer os.RemoveAll(tmp)
	dir, err := directory.Open(filepath.Join(tmp, "directory.db"), directory.Options{
		Params: directory.Params{MemoryKiB: 64, Time: 1, Threads: 1}, // tiny: an example only
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dir.Close()
	u, err := dir.Add(ctx, directory.User{DNI: "48151623L", GivenName: "Ane", FamilyName: "Etxeberria",
		BirthDate: "1990-05-17", Credential: directory.CredentialBakQ}, "a good password")
	if err != nil {
		fmt.Println(err)
		return
	}

	key := make([]byte, 32) // in production: the installation's secret
	rand.Read(key)
	m, err := coordcard.New(coordcard.Config{}, key, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	card, _ := m.Issue(ctx, u.ID) // print card.String() for the citizen; Atea keeps no copy

	s := authn.Subject{UserID: u.ID, DNI: u.DNI}
	ch, _ := m.Begin(ctx, s, "flow-1") // the page asks for ch.Positions, e.g. [B3 D1]
	answer := card.Cells[ch.Positions[0]] + " " + card.Cells[ch.Positions[1]]
	fmt.Println(len(ch.Positions), m.Verify(ctx, s, "flow-1", answer))
	// Output: 2 <nil>
}
