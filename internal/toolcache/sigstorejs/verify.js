#!/usr/bin/env node
// Verifies a Sigstore bundle with sigstore-js against a trusted root file, as
// a program that uses the library does: @sigstore/verify checks the
// signature, certificate, timestamps and log entries; for a DSSE bundle the
// caller then checks that the in-toto statement names the artifact, which
// the library leaves to it (it checks the artifact only for message
// signatures).
//
//   node verify.js --bundle B --trusted-root R --artifact A
//     [--san-regexp RE] [--issuer URL] [--predicate-type URI]
//     [--tlog-threshold N] [--ctlog-threshold N] [--timestamp-threshold N]
//
// Exit 0 and "verified: ..." on success; exit 1 and "CODE: message" on a
// verification failure; exit 2 on bad usage.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    const v = argv[i + 1];
    if (!k.startsWith('--') || v === undefined) {
      usage(`bad argument ${k}`);
    }
    opts[k.slice(2)] = v;
  }
  for (const req of ['bundle', 'trusted-root', 'artifact']) {
    if (!opts[req]) usage(`--${req} is required`);
  }
  return opts;
}

function usage(msg) {
  process.stderr.write(`verify.js: ${msg}\n`);
  process.exit(2);
}

function threshold(opts, name, def) {
  if (opts[name] === undefined) return def;
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < 0) usage(`--${name} wants a count`);
  return n;
}

function fail(code, message) {
  process.stdout.write(`${code}: ${message}\n`);
  process.exit(1);
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(opts['trusted-root'], 'utf8')));
  const artifact = fs.readFileSync(opts.artifact);
  let bundle;
  try {
    bundle = bundleFromJSON(JSON.parse(fs.readFileSync(opts.bundle, 'utf8')));
  } catch (e) {
    fail('BUNDLE_ERROR', e.message);
  }
  const verifier = new Verifier(toTrustMaterial(root), {
    tlogThreshold: threshold(opts, 'tlog-threshold', 1),
    ctlogThreshold: threshold(opts, 'ctlog-threshold', 1),
    timestampThreshold: threshold(opts, 'timestamp-threshold', 1),
  });
  const policy = {};
  if (opts['san-regexp']) policy.subjectAlternativeName = opts['san-regexp'];
  if (opts.issuer) policy.extensions = { issuer: opts.issuer };
  let signer;
  try {
    const entity = toSignedEntity(bundle, artifact);
    signer = verifier.verify(entity, policy);
  } catch (e) {
    fail(e.code || e.name, e.message);
  }
  let what = 'message signature over the artifact';
  if (bundle.content.$case === 'dsseEnvelope') {
    const env = bundle.content.dsseEnvelope;
    if (env.payloadType !== 'application/vnd.in-toto+json') {
      fail('PAYLOAD_ERROR', `payload type ${env.payloadType}, want application/vnd.in-toto+json`);
    }
    let statement;
    try {
      statement = JSON.parse(env.payload.toString('utf8'));
    } catch (e) {
      fail('PAYLOAD_ERROR', `statement: ${e.message}`);
    }
    if (opts['predicate-type'] && statement.predicateType !== opts['predicate-type']) {
      fail('PAYLOAD_ERROR', `predicate type ${statement.predicateType}, want ${opts['predicate-type']}`);
    }
    const sha256 = crypto.createHash('sha256').update(artifact).digest('hex');
    const sha512 = crypto.createHash('sha512').update(artifact).digest('hex');
    const named = (statement.subject || []).some(
      (s) => s.digest && (s.digest.sha256 === sha256 || s.digest.sha512 === sha512)
    );
    if (!named) {
      fail('SUBJECT_ERROR', `no subject of the statement has the artifact's digest sha256:${sha256}`);
    }
    what = `statement ${statement.predicateType} about the artifact`;
  }
  process.stdout.write(`verified: ${what}, signed by ${signer.identity ? signer.identity.subjectAlternativeName : 'a key'}\n`);
}

main();
