// A small SP for Atea's interoperability suite: @node-saml/node-saml behind node's own http
// server, on 127.0.0.1 only. Started by cmd/atea-interop with one argument, a JSON file:
//   {port, base, entityID, idpEntityID, idpSSO, idpSLO, idpCerts: [PEM], keyPEM, certPEM,
//    cookieName}
// Pages (the markers cmd/atea-interop looks for):
//   /metadata   the SP's metadata (node-saml's generator)
//   /protected  a sign-in is required; shows <pre id="sp-result"> NameID, format, class, attributes
//   /acs        HTTP-POST AssertionConsumerService
//   /logout     SP-initiated logout (LogoutRequest over HTTP-Redirect)
//   /slo        LogoutResponse (HTTP-POST, and Redirect for good measure) -> id="sp-loggedout"
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const { SAML } = require("@node-saml/node-saml");

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

const saml = new SAML({
  callbackUrl: cfg.base + "/acs",
  entryPoint: cfg.idpSSO,
  logoutUrl: cfg.idpSLO || cfg.idpSSO,
  logoutCallbackUrl: cfg.base + "/slo",
  issuer: cfg.entityID,
  audience: cfg.entityID,
  idpIssuer: cfg.idpEntityID,
  idpCert: cfg.idpCerts,
  privateKey: cfg.keyPEM,
  publicCert: cfg.certPEM,
  // Atea encrypts assertions to this SP (its serviceProviders entry): node-saml decrypts.
  decryptionPvk: cfg.keyPEM,
  // node-saml signs with SHA-1 unless told otherwise (INTEROP.md); Atea refuses SHA-1.
  signatureAlgorithm: "sha256",
  digestAlgorithm: "sha256",
  // node-saml requires both signatures; say so explicitly.
  wantAssertionsSigned: true,
  wantAuthnResponseSigned: true,
  // Its default NameIDPolicy, emailAddress, and its default RequestedAuthnContext,
  // PasswordProtectedTransport exact: what a legacy SP sends.
  identifierFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
  // "ifPresent", not "always": node-saml reads InResponseTo from <Response> only, never from
  // a <LogoutResponse> (INTEROP.md), so "always" refuses every LogoutResponse. Atea's
  // Responses always carry InResponseTo, so sign-in is still checked against the request.
  validateInResponseTo: "ifPresent",
  acceptedClockSkewMs: 0,
});

const sessions = new Map(); // session id -> profile

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function send(res, status, body, type) {
  res.writeHead(status, { "Content-Type": type || "text/html; charset=utf-8" });
  res.end(body);
}

function errorPage(res, msg) {
  send(res, 400, `<!DOCTYPE html><html><body><p id="sp-error">${esc(msg)}</p></body></html>`);
}

function cookieSession(req) {
  const m = (req.headers.cookie || "").match(new RegExp("(?:^|;\\s*)" + cfg.cookieName + "=([^;]+)"));
  return m ? m[1] : null;
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
      if (body.length > 1 << 20) reject(new Error("body too large"));
    });
    req.on("end", () => resolve(Object.fromEntries(new URLSearchParams(body))));
    req.on("error", reject);
  });
}

function resultPage(res, profile) {
  const lines = [`NameID: ${profile.nameID}`, `NameID-Format: ${profile.nameIDFormat}`];
  const xml = typeof profile.getAssertionXml === "function" ? profile.getAssertionXml() : "";
  const m = xml.match(/AuthnContextClassRef[^>]*>([^<]+)</);
  lines.push(`AuthnContextClassRef: ${m ? m[1].trim() : ""}`);
  const resp = typeof profile.getSamlResponseXml === "function" ? profile.getSamlResponseXml() : "";
  lines.push(`Assertion: ${/EncryptedAssertion/.test(resp) ? "encrypted" : "plain"}`);
  const attrs = profile.attributes || {};
  for (const k of Object.keys(attrs).sort()) {
    lines.push(`${k}: ${[].concat(attrs[k]).join(", ")}`);
  }
  send(res, 200, `<!DOCTYPE html><html><body><pre id="sp-result">${lines.map(esc).join("\n")}</pre></body></html>`);
}

async function handle(req, res) {
  const url = new URL(req.url, cfg.base);
  const sid = cookieSession(req);
  const profile = sid && sessions.get(sid);
  switch (`${req.method} ${url.pathname}`) {
    case "GET /metadata":
      return send(res, 200, saml.generateServiceProviderMetadata(cfg.certPEM, cfg.certPEM), "application/samlmetadata+xml");
    case "GET /protected":
      if (profile) return resultPage(res, profile);
      res.writeHead(302, { Location: await saml.getAuthorizeUrlAsync("", url.host, {}) });
      return res.end();
    case "POST /acs": {
      const form = await readForm(req);
      let result;
      try {
        result = await saml.validatePostResponseAsync({ SAMLResponse: form.SAMLResponse });
      } catch (e) {
        return errorPage(res, "node-saml refused the Response: " + e.message);
      }
      if (!result.profile) return errorPage(res, "no profile in the Response");
      const id = crypto.randomBytes(18).toString("base64url");
      sessions.set(id, result.profile);
      res.writeHead(302, { Location: "/protected", "Set-Cookie": `${cfg.cookieName}=${id}; Path=/; HttpOnly; SameSite=Lax` });
      return res.end();
    }
    case "GET /logout":
      if (!profile) return errorPage(res, "no session to log out");
      if (!cfg.idpSLO) return errorPage(res, "Atea's metadata has no SingleLogoutService");
      res.writeHead(302, { Location: await saml.getLogoutUrlAsync(profile, "", {}) });
      return res.end();
    case "POST /slo":
    case "GET /slo": {
      let result;
      try {
        if (req.method === "POST") {
          const form = await readForm(req);
          if (!form.SAMLResponse) return errorPage(res, "expected a LogoutResponse");
          result = await saml.validatePostResponseAsync({ SAMLResponse: form.SAMLResponse });
        } else {
          const q = Object.fromEntries(url.searchParams);
          if (!q.SAMLResponse) return errorPage(res, "expected a LogoutResponse");
          result = await saml.validateRedirectAsync(q, url.search.slice(1));
        }
      } catch (e) {
        return errorPage(res, "node-saml refused the LogoutResponse: " + e.message);
      }
      if (!result.loggedOut) return errorPage(res, "the LogoutResponse did not log out");
      if (sid) sessions.delete(sid);
      res.writeHead(200, {
        "Content-Type": "text/html; charset=utf-8",
        "Set-Cookie": `${cfg.cookieName}=; Path=/; Max-Age=0`,
      });
      return res.end(`<!DOCTYPE html><html><body><p id="sp-loggedout">Logged out</p></body></html>`);
    }
    default:
      return send(res, 404, "not found", "text/plain");
  }
}

http
  .createServer((req, res) => {
    handle(req, res).catch((e) => errorPage(res, "node SP error: " + e.message));
  })
  .listen(cfg.port, "127.0.0.1", () => console.log(`node-saml SP on ${cfg.base}`));
