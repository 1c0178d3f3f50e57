// Package config is Atea's configuration: the typed [Config], its built-in defaults
// ([Default]), loading from a YAML file and ATEA_ environment variables ([Load]), and the
// checks that every setting is usable and safe ([Config.Validate]).
//
// # Sources and precedence
//
// Load layers, from lowest to highest: the built-in defaults, the YAML file (if any), then
// the ATEA_ variables of the environment list it is given. The command-line flags of
// cmd/atea are applied by the caller after Load and before Validate.
//
// YAML keys are camelCase (listen, baseURL, session.cookieSecure, saml.classMapping, …) and,
// as viper matches them, case-insensitive. Durations are Go duration strings ("5m", "90s").
// Decoding is strict: a key that is not a setting, at any depth (also inside a
// serviceProviders item), is an error naming it, so that a typo in security configuration
// (`saml.sing: response`) cannot be silently ignored. Numbers that do not fit their field,
// fractional numbers and bare numbers given for durations are errors too.
//
// Environment variables are ATEA_ followed by the key path upper-cased, with '.' replaced by
// '_' and the camelCase flattened: ATEA_LISTEN, ATEA_BASEURL, ATEA_SAML_SIGN,
// ATEA_SESSION_COOKIESECURE, ATEA_SAML_MAXRELAYSTATE. Only scalar settings can be set this
// way; the lists (serviceProviders, saml.classMapping) live in the YAML file. An ATEA_
// variable that names no setting is an error, for the same reason as unknown YAML keys.
// Load never reads the process environment itself: the caller passes os.Environ() (or a
// test's list).
//
// saml.classMapping is a list of {classRef, level} rather than a map because viper lower-cases
// map keys and splits them on '.', which would mangle AuthnContextClassRef URIs. A configured
// list replaces the default list entirely; it is not merged with it.
//
// # Not responsible for
//
// This package imports nothing of Atea's and is the only one that uses viper. It does not
// know which attribute names the IdP can release, does not open key files, the directory or
// the SP-metadata directory, and does not warn about development settings (plain-http base
// URL, demo enabled): it reports what is invalid, and cmd/atea decides what to print. It holds
// no secrets inline: key material and secrets are files named by the configuration.
package config
