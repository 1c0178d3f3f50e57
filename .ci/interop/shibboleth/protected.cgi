#!/bin/sh
# The Shibboleth SP's protected page: the NameID (REMOTE_USER), the AuthnContextClassRef
# and the mapped attributes mod_shib passed in the environment (attribute-map.xml ids;
# Apache turns '-' into '_' in CGI variable names).
esc() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }
printf 'Content-Type: text/html; charset=utf-8\r\n\r\n'
printf '<!DOCTYPE html><html><body><pre id="sp-result">\n'
{
  printf 'NameID: %s\n' "$REMOTE_USER"
  printf 'AuthnContextClassRef: %s\n' "$Shib_AuthnContext_Class"
  for a in PersonIdentifier FirstName FamilyName DateOfBirth; do
    printf '%s: %s\n' "$a" "$(printenv "$a")"
  done
} | esc
printf '</pre></body></html>\n'
