// Package smsotptest provides fakes of smsotp for other packages' tests: a recording
// Sender that keeps every message and can fail on demand. It is not for production paths.
package smsotptest
