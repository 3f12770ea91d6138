// Cross-check qprov's keyed Sigstore bundle vectors with sigstore-js.
//
// Verifies every case of tests/sigstore/data/keyed/manifest.json with
// @sigstore/verify (the verifier inside the `sigstore` npm package), offline:
// the case's trusted_root.json is the trust material, and the case's PEM key
// is returned for *any* hint (the bundle's hint is not trusted, as in qprov).
// It writes what sigstore-js decided to sigstore-js-results.json (no dates, so
// the file only changes when a decision does) and exits 1 if a decision
// differs from the manifest's `sigstore_js` expectation.
//
//   mkdir /tmp/sjs && cd /tmp/sjs && npm install sigstore @sigstore/verify @sigstore/bundle
//   NODE_PATH=/tmp/sjs/node_modules node scripts/sigstore/sigstore_js_verify.js \
//       tests/sigstore/data/keyed
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

function version(pkg) {
  // Walk up from the package's entry point (some packages do not export package.json).
  let dir = path.dirname(require.resolve(pkg));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const meta = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (meta.name === pkg) return meta.version;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

function verifyCase(dir, c) {
  const read = (name) => fs.readFileSync(path.join(dir, name));
  const root = TrustedRoot.fromJSON(JSON.parse(read(c.trusted_root)));
  const keyPem = read(c.key).toString('utf8');
  // The key selector ignores the hint: the caller's key is the only anchor.
  const trust = toTrustMaterial(root, () => ({
    publicKey: crypto.createPublicKey(keyPem),
    validFor: () => true,
  }));
  try {
    const bundle = bundleFromJSON(JSON.parse(read(c.bundle)));
    new Verifier(trust).verify(toSignedEntity(bundle, read(c.artifact)));
    return { decision: 'verified' };
  } catch (err) {
    const code = err.code ? `${err.code}: ` : `${err.name}: `;
    return { decision: 'rejected', reason: `${code}${err.message}` };
  }
}

function main() {
  const dir = process.argv[2] || path.join(__dirname, '..', '..', 'tests', 'sigstore', 'data', 'keyed');
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const results = {
    verifier: {
      node: process.version,
      sigstore: version('sigstore'),
      '@sigstore/verify': version('@sigstore/verify'),
      '@sigstore/bundle': version('@sigstore/bundle'),
      '@sigstore/core': version('@sigstore/core'),
      '@sigstore/protobuf-specs': version('@sigstore/protobuf-specs'),
    },
    cases: {},
  };
  let mismatches = 0;
  for (const c of manifest.cases) {
    const result = verifyCase(dir, c);
    results.cases[c.id] = result;
    const ok = result.decision === c.sigstore_js;
    if (!ok) mismatches += 1;
    console.log(`${ok ? 'as expected' : 'MISMATCH   '}  ${c.id}: ${result.decision}` +
      (result.reason ? ` (${result.reason})` : ''));
  }
  fs.writeFileSync(path.join(dir, 'sigstore-js-results.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(`${manifest.cases.length} cases, ${mismatches} differ from the manifest`);
  process.exit(mismatches ? 1 : 0);
}

main();
