package dni_test

import (
	"errors"
	"fmt"

	"github.com/ateaidp/atea/idp/dni"
)

func Example() {
	id, err := dni.Parse(" x-1234567-l ")
	fmt.Println(id, err, dni.Mask(id))

	_, err = dni.Parse("48151623X")
	var cle *dni.CheckLetterError
	if errors.As(err, &cle) {
		fmt.Printf("the letter should be %c\n", cle.Want)
	}

	_, err = dni.Parse("4815")
	fmt.Println(errors.Is(err, dni.ErrFormat))
	// Output:
	// X1234567L <nil> ***567L
	// the letter should be L
	// true
}
