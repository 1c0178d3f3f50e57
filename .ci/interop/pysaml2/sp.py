#!/usr/bin/python3
"""A small SP for Atea's interoperability suite: Debian's python3-pysaml2 (with xmlsec1)
behind http.server, on 127.0.0.1 only. Started by cmd/atea-interop:

    sp.py --port P --idp-metadata FILE --key FILE --cert FILE [--slo-binding front|soap]

Pages (the markers cmd/atea-interop looks for):
  /metadata   the SP's metadata (pysaml2's generator)
  /protected  a sign-in is required; shows <pre id="sp-result"> NameID, format, class, attributes
  /acs        HTTP-POST AssertionConsumerService
  /logout     SP-initiated logout (signed LogoutRequest): with --slo-binding front (the
              default) over HTTP-Redirect or HTTP-POST, with soap over the SOAP back channel
              (pysaml2 posts it itself and reads the LogoutResponse) -> id="sp-loggedout"
  /slo        LogoutResponse, HTTP-Redirect or HTTP-POST -> id="sp-loggedout"
"""

import argparse
import base64
import html
import logging
import secrets
import sys
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, BINDING_SOAP
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS
from saml2.sigver import verify_redirect_signature
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

COOKIE = "pysaml2sp_session"


def make_client(args):
    base = "http://127.0.0.1:%d" % args.port
    # pysaml2 tries SOAP first for logout whenever the IdP offers it (its _SRPA default);
    # the operator's choice is preferred_binding.
    slo_bindings = [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST]
    conf = SPConfig()
    conf.load(
        {
            "entityid": base + "/metadata",
            "service": {
                "sp": {
                    "endpoints": {
                        "assertion_consumer_service": [(base + "/acs", BINDING_HTTP_POST)],
                        "single_logout_service": [
                            (base + "/slo", BINDING_HTTP_REDIRECT),
                            (base + "/slo", BINDING_HTTP_POST),
                        ],
                    },
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                    "name_id_policy_format": NAMEID_FORMAT_EMAILADDRESS,
                    "authn_requests_signed": True,
                    "logout_requests_signed": True,
                    # pysaml2 requires the Response signature (INTEROP.md).
                    "want_response_signed": True,
                    "want_assertions_signed": False,
                    "allow_unsolicited": False,
                    # pysaml2 signs with RSA-SHA1 unless configured; Atea refuses SHA-1.
                    "signing_algorithm": SIG_RSA_SHA256,
                    "digest_algorithm": DIGEST_SHA256,
                }
            },
            "key_file": args.key,
            "cert_file": args.cert,
            "encryption_keypairs": [{"key_file": args.key, "cert_file": args.cert}],
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "metadata": {"local": [args.idp_metadata]},
            "preferred_binding": {
                "single_logout_service": slo_bindings,
                "assertion_consumer_service": [BINDING_HTTP_POST],
                "single_sign_on_service": [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST],
            },
            # pysaml2 allows no clock skew by default; Atea back-dates NotBefore instead.
        }
    )
    return base, conf, Saml2Client(conf)


class Handler(BaseHTTPRequestHandler):
    server_version = "pysaml2-sp"

    def log_message(self, fmt, *a):
        sys.stderr.write("pysaml2-sp: " + (fmt % a) + "\n")

    # -- helpers -------------------------------------------------------------------------
    def send(self, status, body, headers=()):
        b = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(b)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(b)

    def error_page(self, msg):
        self.send(400, '<!DOCTYPE html><html><body><p id="sp-error">%s</p></body></html>' % html.escape(msg))

    def redirect(self, location, headers=()):
        self.send_response(302)
        self.send_header("Location", location)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def session(self):
        for part in self.headers.get("Cookie", "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == COOKIE:
                return self.server.sessions.get(v), v
        return None, None

    def form(self):
        n = int(self.headers.get("Content-Length", "0"))
        if n > 1 << 20:
            raise ValueError("body too large")
        return dict(urllib.parse.parse_qsl(self.rfile.read(n).decode("utf-8")))

    def send_http_info(self, info):
        """Sends what pysaml2's binding helpers produced: a redirect or an auto-POST page."""
        headers = dict(info.get("headers", []))
        if info.get("method") == "GET" or "Location" in headers:
            self.redirect(headers["Location"])
        else:
            self.send(200, info["data"])

    # -- pages ---------------------------------------------------------------------------
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        client = self.server.client
        if url.path == "/metadata":
            body = create_metadata_string(None, config=self.server.conf, valid=24).decode("utf-8")
            b = body.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/samlmetadata+xml")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)
        elif url.path == "/protected":
            sess, _ = self.session()
            if sess:
                return self.result_page(sess)
            idp = self.server.idp
            reqid, info = client.prepare_for_authenticate(
                entityid=idp, binding=BINDING_HTTP_REDIRECT, sigalg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256
            )
            self.server.outstanding[reqid] = "/protected"
            self.send_http_info(info)
        elif url.path == "/logout":
            sess, _ = self.session()
            if not sess:
                return self.error_page("no session to log out")
            if self.server.slo_binding == "soap":
                return self.soap_logout(sess)
            try:
                out = client.global_logout(sess["name_id"], sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
            except Exception as e:  # pysaml2 raises many kinds; the page says which
                return self.error_page("pysaml2 could not start the logout: %r" % e)
            if not out:
                return self.error_page("pysaml2 found no IdP to log out from")
            for _, (binding, info) in out.items():
                if binding in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
                    return self.send_http_info(info)
                return self.error_page("pysaml2 logout over %s: %r" % (binding, info))
        elif url.path == "/slo":
            q = dict(urllib.parse.parse_qsl(url.query))
            self.slo(q, BINDING_HTTP_REDIRECT)
        else:
            self.send(404, "not found")

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        try:
            form = self.form()
        except ValueError as e:
            return self.error_page(str(e))
        if url.path == "/acs":
            try:
                resp = self.server.client.parse_authn_request_response(
                    form.get("SAMLResponse", ""), BINDING_HTTP_POST, outstanding=self.server.outstanding
                )
            except Exception as e:
                return self.error_page("pysaml2 refused the Response: %r" % e)
            if resp is None:
                return self.error_page("pysaml2 refused the Response")
            self.server.outstanding.pop(resp.in_response_to, None)
            classes = []
            for st in resp.assertion.authn_statement:
                ac = st.authn_context
                if ac is not None and ac.authn_context_class_ref is not None:
                    classes.append(ac.authn_context_class_ref.text.strip())
            sid = secrets.token_urlsafe(18)
            self.server.sessions[sid] = {
                "name_id": resp.name_id,
                "class": classes[0] if classes else "",
                "ava": resp.ava,
            }
            self.redirect("/protected", [("Set-Cookie", "%s=%s; Path=/; HttpOnly; SameSite=Lax" % (COOKIE, sid))])
        elif url.path == "/slo":
            self.slo(form, BINDING_HTTP_POST)
        else:
            self.send(404, "not found")

    def slo(self, params, binding):
        if "SAMLResponse" not in params:
            return self.error_page("expected a LogoutResponse")
        client = self.server.client
        # pysaml2 verifies a LogoutResponse's signature when there is one but accepts an
        # unsigned one. This SP insists, as Shibboleth and crewjam do (INTEROP.md: every SP
        # rejects unsigned LogoutResponses), so that an unsigned one from Atea is a FAIL.
        problem = self.logout_signature_problem(params, binding)
        if problem:
            return self.error_page("LogoutResponse refused: " + problem)
        try:
            resp = client.parse_logout_request_response(params["SAMLResponse"], binding)
        except Exception as e:
            return self.error_page("pysaml2 refused the LogoutResponse: %r" % e)
        if resp is None or not resp.status_ok():
            return self.error_page("LogoutResponse not successful")
        sess, sid = self.session()
        if sid:
            self.server.sessions.pop(sid, None)
        if sess:
            client.local_logout(sess["name_id"])
        self.send(
            200,
            '<!DOCTYPE html><html><body><p id="sp-loggedout">Logged out</p></body></html>',
            [("Set-Cookie", "%s=; Path=/; Max-Age=0" % COOKIE)],
        )

    def soap_logout(self, sess):
        """SP-initiated logout over SOAP. pysaml2 writes, signs and posts the LogoutRequest
        (create_logout_request, apply_binding, send: what its do_logout does). It cannot check
        the answer: parse_soap_enveloped_saml_thingy re-serialises the payload with
        ElementTree, renaming every prefix (ns0, ns1, ...), so no signature written by anyone
        else verifies. xmlsec1 checks the LogoutResponse in the envelope as received instead."""
        client, idp = self.server.client, self.server.idp
        srvs = client.metadata.single_logout_service(idp, BINDING_SOAP, "idpsso")
        locs = [s["location"] for s in (srvs or {}).get(BINDING_SOAP, [])] if isinstance(srvs, dict) else [s["location"] for s in srvs or []]
        if not locs:
            return self.error_page("the IdP metadata offers no SOAP SingleLogoutService")
        info = client.users.get_info_from(sess["name_id"], idp, False) or {}
        idx = info.get("session_index")
        try:
            req_id, req = client.create_logout_request(
                locs[0], idp, name_id=sess["name_id"], session_indexes=[idx] if idx else None,
                sign=True, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
            # Signed already (create_logout_request, sign=True): the envelope is not signed again.
            http_info = client.apply_binding(BINDING_SOAP, str(req), locs[0], sign=False)
            resp = client.send(**http_info)
        except Exception as e:
            import traceback

            traceback.print_exc()  # the SP's log (the work directory) shows where
            return self.error_page("pysaml2 could not send the SOAP LogoutRequest: %r" % e)
        if resp.status_code != 200:
            return self.error_page("SOAP logout: HTTP %d: %s" % (resp.status_code, resp.text[:300]))
        try:
            env = ET.fromstring(resp.content)
        except ET.ParseError as e:
            return self.error_page("SOAP answer unreadable: %r" % e)
        lr = env.find("{http://schemas.xmlsoap.org/soap/envelope/}Body/{urn:oasis:names:tc:SAML:2.0:protocol}LogoutResponse")
        if lr is None:
            return self.error_page("SOAP answer holds no LogoutResponse")
        if lr.get("InResponseTo") != req_id:
            return self.error_page("SOAP LogoutResponse answers %r, not %r" % (lr.get("InResponseTo"), req_id))
        problem = self.xmlsec_verify(resp.content, lr.get("ID"))
        if problem:
            return self.error_page("SOAP LogoutResponse refused: " + problem)
        sc = lr.find("{urn:oasis:names:tc:SAML:2.0:protocol}Status/{urn:oasis:names:tc:SAML:2.0:protocol}StatusCode")
        if sc is None or sc.get("Value") != "urn:oasis:names:tc:SAML:2.0:status:Success":
            return self.error_page("SOAP LogoutResponse not successful: %r" % (sc.get("Value") if sc is not None else None))
        _, sid = self.session()
        if sid:
            self.server.sessions.pop(sid, None)
        self.server.client.local_logout(sess["name_id"])
        self.send(
            200,
            '<!DOCTYPE html><html><body><p id="sp-loggedout">Logged out (SOAP)</p></body></html>',
            [("Set-Cookie", "%s=; Path=/; Max-Age=0" % COOKIE)],
        )

    def xmlsec_verify(self, doc, node_id):
        """None when xmlsec1 verifies the signature of node_id in doc with a signing key of the
        IdP's metadata."""
        import os
        import subprocess
        import tempfile

        certs = self.server.client.metadata.certs(self.server.idp, "idpsso", use="signing")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "answer.xml")
            with open(path, "wb") as f:
                f.write(doc)
            for i, cert in enumerate(certs):
                pem = cert[1] if isinstance(cert, tuple) else cert
                pem_path = os.path.join(d, "idp%d.pem" % i)
                with open(pem_path, "w") as f:
                    f.write("-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % pem.strip())
                r = subprocess.run(
                    ["/usr/bin/xmlsec1", "--verify", "--enabled-reference-uris", "same-doc",
                     "--pubkey-cert-pem", pem_path, "--id-attr:ID",
                     "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse", "--node-id", node_id, path],
                    capture_output=True)
                if r.returncode == 0:
                    return None
        return "no signing key of the IdP verifies it (xmlsec1)"

    def logout_signature_problem(self, params, binding):
        if binding == BINDING_HTTP_POST:
            try:
                root = ET.fromstring(base64.b64decode(params["SAMLResponse"]))
            except (ValueError, ET.ParseError) as e:
                return "unreadable: %r" % e
            if root.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is None:
                return "not signed (no XML signature)"
            return None  # pysaml2 verifies the signature that is there
        if "Signature" not in params or "SigAlg" not in params:
            return "not signed (no Signature/SigAlg query parameters)"
        client = self.server.client
        for cert in client.metadata.certs(self.server.idp, "idpsso", use="signing"):
            try:
                if verify_redirect_signature(params, client.sec.sec_backend, cert=cert):
                    return None
            except Exception:  # a certificate that does not fit: try the next
                pass
        return "query signature does not verify"

    def result_page(self, sess):
        nid = sess["name_id"]
        lines = [
            "NameID: %s" % nid.text,
            "NameID-Format: %s" % nid.format,
            "AuthnContextClassRef: %s" % sess["class"],
        ]
        for k in sorted(sess["ava"]):
            lines.append("%s: %s" % (k, ", ".join(sess["ava"][k])))
        self.send(
            200,
            '<!DOCTYPE html><html><body><pre id="sp-result">%s</pre></body></html>'
            % "\n".join(html.escape(l) for l in lines),
        )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--idp-metadata", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--slo-binding", choices=["front", "soap"], default="front")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    base, conf, client = make_client(args)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.conf, srv.client, srv.slo_binding = conf, client, args.slo_binding
    srv.idp = next(iter(client.metadata.identity_providers()))
    srv.sessions, srv.outstanding = {}, {}
    print("pysaml2 SP on", base, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
