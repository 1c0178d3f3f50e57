package xmlgate_test

import (
	"errors"
	"fmt"

	"github.com/ateaidp/atea/metadata/xmlgate"
)

func ExampleCheck() {
	doc := []byte(`<!DOCTYPE r [<!ENTITY e "v">]><r>&e;</r>`)
	err := xmlgate.Check(doc, xmlgate.ProtocolLimits())
	fmt.Println(err)
	fmt.Println(errors.Is(err, xmlgate.ErrRejected))
	// Output:
	// xmlgate: rejected: DOCTYPE not allowed
	// true
}
