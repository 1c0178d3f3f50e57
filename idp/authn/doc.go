// Package authn holds the vocabulary every authentication method and the IdP share: the ordered
// levels of assurance (eIDAS low < substantial < high) and their URIs.
//
// It is not responsible for running any method (password, SMS, card, hub): those live in their
// own packages and the IdP's flow dispatcher decides which one runs. It imports no implementation.
package authn
