// Atea, B@k activation (idp/selfservice/activation): the anti-automation proof of work of
// the activation page. The page carries a challenge bound to its flow; this script finds a
// decimal nonce such that SHA-256(challenge || nonce) starts with data-bits zero bits and
// puts it in the hidden field "pow". The server checks it with one hash, once. Nothing
// leaves the browser but the nonce: no outside service is involved.
(function () {
  'use strict';
  var input = document.getElementById('pow-challenge');
  var out = document.getElementById('pow-nonce');
  var status = document.getElementById('pow-status');
  var form = document.getElementById('activation-form');
  if (!input || !out || !form) {
    return;
  }
  var challenge = input.value;
  var bits = parseInt(input.getAttribute('data-bits'), 10) || 0;
  var solved = false;
  var wantSubmit = false;

  function say(key) {
    if (status) {
      status.textContent = status.getAttribute('data-' + key) || '';
    }
  }

  // zeros counts the leading zero bits of a digest.
  function zeros(b) {
    var n = 0;
    for (var i = 0; i < b.length; i++) {
      if (b[i] === 0) {
        n += 8;
        continue;
      }
      var x = b[i];
      while ((x & 0x80) === 0) {
        n++;
        x <<= 1;
      }
      break;
    }
    return n;
  }

  // A submit before the answer is found waits for it, then sends the form.
  form.addEventListener('submit', function (e) {
    if (!solved) {
      e.preventDefault();
      wantSubmit = true;
    }
  });

  if (!window.crypto || !window.crypto.subtle || !window.TextEncoder) {
    say('failed');
    return;
  }
  var enc = new TextEncoder();
  var batch = 1024;

  // solve hashes nonces in batches: crypto.subtle is asynchronous, and a batch of promises
  // keeps it busy without blocking the page.
  function solve(start) {
    var work = [];
    for (var i = 0; i < batch; i++) {
      work.push(window.crypto.subtle.digest('SHA-256', enc.encode(challenge + String(start + i))));
    }
    return Promise.all(work).then(function (digests) {
      for (var j = 0; j < digests.length; j++) {
        if (zeros(new Uint8Array(digests[j])) >= bits) {
          return start + j;
        }
      }
      return solve(start + batch);
    });
  }

  say('working');
  solve(0).then(function (nonce) {
    out.value = String(nonce);
    solved = true;
    form.setAttribute('data-pow', 'done');
    say('done');
    if (wantSubmit) {
      form.submit();
    }
  }, function () {
    say('failed');
  });
})();
