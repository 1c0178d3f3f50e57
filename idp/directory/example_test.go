package directory_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ateaidp/atea/idp/directory"
)

func Example() {
	tmp, err := os.MkdirTemp("", "atea-directory")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)

	ctx := context.Background()
	d, err := directory.Open(filepath.Join(tmp, "directory.db"), directory.Options{
		Params:      directory.Params{MemoryKiB: 64, Time: 1, Threads: 1}, // tiny, for the example; production uses DefaultParams or more
		MaxFailures: 5,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()

	_, err = d.Add(ctx, directory.User{
		DNI: "48151623-l", GivenName: "Ane", FamilyName: "Etxeberria Goñi", BirthDate: "1990-05-17",
	}, "itsasoa-mendia-ibaia-42")
	fmt.Println("add:", err)

	_, err = d.Add(ctx, directory.User{DNI: "X1234567L", GivenName: "Jan", FamilyName: "Kowalski", BirthDate: "1985-11-30"}, "contraseña")
	fmt.Println("weak:", errors.Is(err, directory.ErrWeakPassword))

	u, err := d.Authenticate(ctx, "48151623L", "itsasoa-mendia-ibaia-42")
	fmt.Println("login:", u.DNI, u.Credential, u.Status, err)

	_, err = d.Authenticate(ctx, "48151623L", "wrong")
	fmt.Println("wrong:", errors.Is(err, directory.ErrInvalidCredentials))
	// Output:
	// add: <nil>
	// weak: true
	// login: 48151623L bak active <nil>
	// wrong: true
}
