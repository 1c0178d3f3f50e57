package demosp

import (
	"encoding/xml"
	"fmt"

	"github.com/crewjam/saml"
)

func xmlMarshal(ed *saml.EntityDescriptor) ([]byte, error) {
	b, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("demosp: metadata: %w", err)
	}
	return append([]byte(xml.Header), b...), nil
}
