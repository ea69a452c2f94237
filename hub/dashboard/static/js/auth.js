// The analyst's signing key and the bearer tokens it makes, in the browser, with WebCrypto.
//
// The hub reads no shared secret and issues no session: every read is authorised by a JWT
// the calling agency signs with its own registered key (hub/exchange/tokens.py). So the
// dashboard signs one token per request: header {alg, kid: "<agency>/<key-id>", typ},
// claims {iss: agency, aud, iat, exp (short), jti (random, used once)}. The private key is
// imported non-extractable; the JWK text is kept only if the analyst asks ("keep for this
// tab", sessionStorage, gone when the tab closes) and is never sent anywhere.

const ALGORITHMS = {
  EdDSA: { params: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
  ES256: {
    params: { name: 'ECDSA', namedCurve: 'P-256' },
    sign: { name: 'ECDSA', hash: 'SHA-256' }, // WebCrypto's r||s is exactly JWS's format
  },
};
const STORE = 'hub.dashboard.jwk';

export class KeyProblem extends Error {}

export function cryptoAvailable() {
  return Boolean(globalThis.crypto?.subtle) && window.isSecureContext;
}

function algorithmFor(jwk) {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  throw new KeyProblem(`unsupported key ${jwk.kty}/${jwk.crv}: only Ed25519 (EdDSA) and P-256 (ES256)`);
}

const encoder = new TextEncoder();

function b64url(bytes) {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function b64urlJson(value) {
  return b64url(encoder.encode(JSON.stringify(value)));
}

export class Signer {
  constructor({ agency, kid, alg, key }) {
    Object.assign(this, { agency, kid, alg, key });
    Object.freeze(this);
  }

  // A token for exactly one request. `now` is the hub's clock as the page estimates it.
  async token({ audience, lifetime, now }) {
    const iat = Math.floor(now / 1000);
    const header = { alg: this.alg, kid: this.kid, typ: 'JWT' };
    const claims = { iss: this.agency, aud: audience, iat, exp: iat + lifetime, jti: crypto.randomUUID() };
    const input = `${b64urlJson(header)}.${b64urlJson(claims)}`;
    const signature = await crypto.subtle.sign(ALGORITHMS[this.alg].sign, this.key, encoder.encode(input));
    return `${input}.${b64url(new Uint8Array(signature))}`;
  }
}

// Parse and import a private JWK as written by `hub keys generate` (kid "<agency>/<key-id>").
export async function importJwk(text) {
  let jwk;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new KeyProblem('not a JSON file');
  }
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) throw new KeyProblem('not a JWK object');
  const alg = algorithmFor(jwk);
  if (jwk.alg && jwk.alg !== alg) throw new KeyProblem(`alg ${jwk.alg} does not match a ${jwk.crv} key`);
  if (typeof jwk.d !== 'string') throw new KeyProblem('this is a public key; load the .private.jwk file');
  const kid = typeof jwk.kid === 'string' ? jwk.kid : '';
  const slash = kid.indexOf('/');
  if (slash < 1 || slash === kid.length - 1) {
    throw new KeyProblem('the key has no kid "<agency>/<key-id>"; use a file made by `hub keys generate`');
  }
  const { params, sign } = ALGORITHMS[alg];
  const material = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d };
  if (alg === 'ES256') material.y = jwk.y;
  const publicPart = { ...material };
  delete publicPart.d;
  let key;
  let check;
  try {
    key = await crypto.subtle.importKey('jwk', material, params, false, ['sign']);
    check = await crypto.subtle.importKey('jwk', publicPart, params, false, ['verify']);
  } catch (error) {
    throw new KeyProblem(`the browser refused the key (${error.name})`);
  }
  // d must belong to x/y: a mismatched file would sign tokens the hub can never verify
  const probe = encoder.encode('hub-dashboard-key-check');
  const signature = await crypto.subtle.sign(sign, key, probe);
  if (!(await crypto.subtle.verify(sign, check, signature, probe))) {
    throw new KeyProblem('the private part does not match the public key');
  }
  return new Signer({ agency: kid.slice(0, slash), kid, alg, key });
}

export function remember(text) {
  sessionStorage.setItem(STORE, text);
}

export function remembered() {
  return sessionStorage.getItem(STORE);
}

export function forget() {
  sessionStorage.removeItem(STORE);
}
