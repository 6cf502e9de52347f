#!/usr/bin/python3
"""A webhook-jwt receiver outside Node: docs/protocol.md (version 1), on Python's standard library and
Debian's python3-jwt (key loading, signature check) and python3-cryptography. A reference to read and copy.

    /usr/bin/python3 receiver.py --issuer URL --jwks-url URL --audience URL [--port 8080] [--algorithms ES256,EdDSA]
"""
import argparse, base64, hashlib, hmac, json, math, re, threading, time, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import jwt

# docs/protocol.md §4: every code is a 401 but these four, which tell the sender to retry after Retry-After.
RETRY_LATER = {'WEBHOOK_KEY_UNAVAILABLE', 'WEBHOOK_REPLAY_STORE_UNAVAILABLE', 'WEBHOOK_DELIVERY_IN_PROGRESS', 'WEBHOOK_OVERLOADED'}
COMPACT = re.compile(r'[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+')  # always fullmatch: "$" allows a "\n"
BEARER = re.compile(r'Bearer +([^ ]+) *', re.IGNORECASE)
DIGEST = re.compile(r'[A-Za-z0-9_-]{43}')
TYPES = ('webhook+jwt', 'application/webhook+jwt')
PRIVATE_MEMBERS = ('d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k')
THUMBPRINT_MEMBERS = {'EC': ('crv', 'kty', 'x', 'y'), 'OKP': ('crv', 'kty', 'x'), 'RSA': ('e', 'kty', 'n')}
CURVE_ALGORITHMS = {('EC', 'P-256'): ['ES256'], ('EC', 'P-384'): ['ES384'], ('OKP', 'Ed25519'): ['EdDSA']}
VERIFIERS = jwt.algorithms.get_default_algorithms()
RETRY_AFTER = 5  # seconds a sender waits when a store is down or a delivery is in progress


class Refused(Exception):
    def __init__(self, code, retry_after=1):
        super().__init__(code)
        self.code, self.retry_after = code, retry_after


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def b64decode(segment):  # only the one canonical encoding: no padding, no non-zero trailing bits
    data = base64.urlsafe_b64decode(segment + '=' * (-len(segment) % 4))
    if b64url(data) != segment:
        raise ValueError('not canonical base64url')
    return data


def no_duplicates(pairs):
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError('a member repeated')
    return members


def json_object(segment):  # UTF-8 JSON (no BOM, NaN or Infinity) holding an object without repeated members
    try:
        value = json.loads(b64decode(segment).decode('utf-8'), object_pairs_hook=no_duplicates, parse_constant=no_duplicates)
    except (ValueError, TypeError, RecursionError):
        raise Refused('WEBHOOK_TOKEN_MALFORMED')
    if not isinstance(value, dict):
        raise Refused('WEBHOOK_TOKEN_MALFORMED')
    return value


def is_time(value):
    try:
        return type(value) in (int, float) and math.isfinite(value)
    except OverflowError:  # an integer beyond any double: not a finite time
        return False


def is_id(value):
    return isinstance(value, str) and 0 < len(value) <= 256


def read_key_set(document):
    """The usable keys of a JWK Set by kid, as (key, algorithms). Raises ValueError to refuse the whole set."""
    if not isinstance(document, dict) or not isinstance(document.get('keys'), list) or len(document['keys']) > 50:
        raise ValueError('not a JWK Set')
    keys, seen = {}, set()
    for jwk in document['keys']:
        if not isinstance(jwk, dict) or jwk.get('kty') == 'oct' or any(member in jwk for member in PRIVATE_MEMBERS):
            raise ValueError('a symmetric or private key, or not a JWK')
        kid = jwk.get('kid')
        if not isinstance(kid, str) or not kid:
            continue
        if kid in seen:
            raise ValueError('one kid names two keys')
        seen.add(kid)
        algorithms = ['RS256', 'PS256'] if jwk.get('kty') == 'RSA' else CURVE_ALGORITHMS.get((jwk.get('kty'), jwk.get('crv')), [])
        algorithms = [alg for alg in algorithms if 'alg' not in jwk or jwk['alg'] == alg]
        ops = jwk.get('key_ops')
        if not algorithms or jwk.get('use', 'sig') != 'sig' or (ops is not None and not (isinstance(ops, list) and 'verify' in ops)):
            continue  # a key of another type, or for another use
        if jwk['kty'] == 'RSA' and jwk.get('e') != 'AQAB':
            raise ValueError('an RSA exponent other than 65537')
        key = jwt.PyJWK(jwk, algorithms[0]).key  # raises for a malformed key or a point off its curve
        if jwk['kty'] == 'RSA' and key.key_size < 2048:
            raise ValueError('an RSA key under 2048 bits')
        members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk['kty']]}
        if b64url(hashlib.sha256(json.dumps(members, separators=(',', ':'), sort_keys=True).encode()).digest()) != kid:
            raise ValueError('a kid that is not the RFC 7638 thumbprint of its key')
        keys[kid] = (key, algorithms)
    return keys


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None  # a 3xx then fails the fetch: the key set is only where it was configured


def fetch_jwks(url, timeout=5, max_bytes=65536):
    """One GET of the key set: (document, seconds it may be used for or None, its Age). Raises if unusable."""
    opener = urllib.request.build_opener(NoRedirects)
    request = urllib.request.Request(url, headers={'accept': 'application/jwk-set+json, application/json', 'user-agent': 'webhook-jwt-python-receiver'})
    with opener.open(request, timeout=timeout) as response:
        if not re.match(r'application/(jwk-set\+)?json\s*(;|$)', response.headers.get('content-type', ''), re.I):
            raise ValueError('the key set is not JSON')
        body = response.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise ValueError('the key set is too large')
        cache_control, age = response.headers.get('cache-control', ''), response.headers.get('age', '')
        age = int(age) if age.isdigit() else 0
        max_age = re.search(r'(?:^|,)\s*max-age\s*=\s*"?(\d+)"?\s*(?:,|$)', cache_control, re.I)
        fresh_for = 0 if re.search(r'no-store|no-cache', cache_control, re.I) else max(0, int(max_age.group(1)) - age) if max_age else None
        return json.loads(body.decode('utf-8')), fresh_for, age


class KeySet:
    """One sender's keys: kept for max-age (at most cache_max_age), refetched on an unknown kid once per cooldown."""
    def __init__(self, url, cooldown=30, fetch=fetch_jwks, clock=time.time, cache_max_age=600, max_stale=3600):
        self.url, self.cooldown, self.fetch, self.clock, self.cache_max_age, self.max_stale = url, cooldown, fetch, clock, cache_max_age, max_stale
        self.keys, self.expires, self.generated, self.last_fetch, self.failed, self.last_error = None, -math.inf, -math.inf, -math.inf, False, None
        self.lock = threading.Lock()

    def refresh(self, now):
        self.last_fetch = now
        try:
            document, fresh_for, age = self.fetch(self.url)
            self.keys, self.generated, self.failed = read_key_set(document), now - age, False
            self.expires = now + max(1, min(self.cache_max_age if fresh_for is None else fresh_for, self.cache_max_age))
        except Exception as error:  # unreachable, a bad answer, or a refused set: the last good set, if any, stays in use
            self.failed, self.last_error = True, repr(error)

    def key_for(self, kid, signed_by):
        with self.lock:
            now = self.clock()
            if now >= self.expires and (not self.failed or now >= self.last_fetch + self.cooldown):
                self.refresh(now)
            elif self.keys is not None and kid not in self.keys:
                # Keys are published before they sign (protocol §3): a set generated after the token lacks its key for good.
                if self.generated > signed_by:
                    raise Refused('WEBHOOK_KEY_UNKNOWN')
                if now < self.last_fetch + self.cooldown:
                    raise Refused('WEBHOOK_KEY_UNAVAILABLE', self.last_fetch + self.cooldown - now)
                self.refresh(now)
            if self.keys is None or now >= self.expires + self.max_stale:
                raise Refused('WEBHOOK_KEY_UNAVAILABLE', self.cooldown)
            if kid in self.keys:
                return self.keys[kid]
            raise Refused('WEBHOOK_KEY_UNAVAILABLE' if self.failed else 'WEBHOOK_KEY_UNKNOWN', self.cooldown)


class MemoryReplayStore:
    """Remembers each key until it expires. remember() raising means the store is down: the receiver answers 503."""
    def __init__(self):
        self.seen, self.lock = {}, threading.Lock()

    def remember(self, key, expires_at, now):
        with self.lock:
            if len(self.seen) > 100000:
                self.seen = {seen: until for seen, until in self.seen.items() if until > now}
            if self.seen.get(key, -math.inf) > now:
                return False
            self.seen[key] = expires_at
            return True


class Receiver:
    def __init__(self, issuer, jwks_url, audience, algorithms=('ES256',), header='authorization', clock_tolerance=30, max_token_age=300,
                 max_token_bytes=8192, jwks_cooldown=30, deduplicate=False, max_in_flight=64, replay_store=None, fetch=fetch_jwks, clock=time.time):
        self.issuer, self.audience, self.algorithms, self.header = issuer, list(audience), list(algorithms), header
        self.tolerance, self.max_age, self.max_bytes, self.deduplicate, self.max_in_flight = clock_tolerance, max_token_age, max_token_bytes, deduplicate, max_in_flight
        self.key_set, self.replay_store, self.clock = KeySet(jwks_url, jwks_cooldown, fetch, clock), replay_store or MemoryReplayStore(), clock
        self.in_flight, self.handling, self.handled, self.lock = 0, set(), {}, threading.Lock()

    def verify(self, headers, body):
        """The protocol's checks in order, cheapest first: returns (claims, kid), or raises Refused."""
        token = headers.get(self.header)
        if not token:
            raise Refused('WEBHOOK_TOKEN_MISSING')
        if self.header == 'authorization':
            match = BEARER.fullmatch(token)
            token = match.group(1) if match else ''
        if not token or len(token) > self.max_bytes or not COMPACT.fullmatch(token):
            raise Refused('WEBHOOK_TOKEN_MALFORMED')
        segments = token.split('.')
        try:
            signature = b64decode(segments[2])
        except ValueError:
            raise Refused('WEBHOOK_TOKEN_MALFORMED')
        header, claims, now = json_object(segments[0]), json_object(segments[1]), self.clock()
        self.check_claims(header, claims, now)  # needs no key: a token that fails here gets its 401 even while keys are unreachable
        key, key_algorithms = self.key_set.key_for(header['kid'], claims['iat'] + 1 + self.tolerance)  # iat is rounded down
        try:  # the key must be for the token's alg: a P-256 key never verifies "ES384", an RS256 key never PS256
            valid = header['alg'] in key_algorithms and VERIFIERS[header['alg']].verify(f'{segments[0]}.{segments[1]}'.encode(), key, signature)
        except Exception:
            valid = False
        if not valid:
            raise Refused('WEBHOOK_SIGNATURE_INVALID')
        if not hmac.compare_digest(b64url(hashlib.sha256(body).digest()), claims['body_sha256']):
            raise Refused('WEBHOOK_BODY_DIGEST_MISMATCH')
        try:
            first = self.replay_store.remember(json.dumps([self.issuer, claims['jti']]), claims['exp'] + self.tolerance, now)
        except Exception:
            raise Refused('WEBHOOK_REPLAY_STORE_UNAVAILABLE', RETRY_AFTER)
        if not first:
            raise Refused('WEBHOOK_REPLAYED')
        return claims, header['kid']

    def check_claims(self, header, claims, now):  # each rule in the consumer's order; the first broken one answers
        exp, iat, nbf, tolerance = claims.get('exp'), claims.get('iat'), claims.get('nbf', now), self.tolerance
        for broken, code in [
            (lambda: header.get('typ') not in TYPES, 'WEBHOOK_TOKEN_TYPE_INVALID'),
            (lambda: 'crit' in header or 'b64' in header, 'WEBHOOK_TOKEN_MALFORMED'),  # no extension is understood
            (lambda: header.get('alg') not in self.algorithms, 'WEBHOOK_ALGORITHM_NOT_ALLOWED'),
            (lambda: not is_id(header.get('kid')), 'WEBHOOK_TOKEN_MALFORMED'),
            (lambda: not isinstance(claims.get('iss'), str), 'WEBHOOK_CLAIMS_INVALID'),
            (lambda: claims['iss'] != self.issuer, 'WEBHOOK_ISSUER_INVALID'),
            (lambda: not isinstance(claims.get('aud'), str) or claims['aud'] not in self.audience, 'WEBHOOK_AUDIENCE_INVALID'),
            (lambda: not (is_time(exp) and is_time(iat) and is_time(nbf)) or exp < iat, 'WEBHOOK_CLAIMS_INVALID'),
            (lambda: exp <= now - tolerance, 'WEBHOOK_TOKEN_EXPIRED'),
            (lambda: iat > now + tolerance or nbf > now + tolerance, 'WEBHOOK_TOKEN_NOT_YET_VALID'),
            (lambda: exp - iat > self.max_age, 'WEBHOOK_TOKEN_LIFETIME_TOO_LONG'),
            (lambda: not is_id(claims.get('jti')) or not is_id(claims.get('webhook_id')), 'WEBHOOK_CLAIMS_INVALID'),
            (lambda: not isinstance(claims.get('body_sha256'), str) or not DIGEST.fullmatch(claims['body_sha256']), 'WEBHOOK_CLAIMS_INVALID'),
        ]:
            if broken():
                raise Refused(code)

    def handle(self, headers, body, handler=lambda claims: None):
        """One request: (status, headers, body). `handler` gets verified claims; raising there answers 500."""
        with self.lock:
            if self.in_flight >= self.max_in_flight:  # shed load before any work
                return problem(Refused('WEBHOOK_OVERLOADED', 10))
            self.in_flight += 1
        try:
            claims, kid = self.verify(headers, body)
            webhook_id = claims['webhook_id']
            if self.deduplicate and self.claim(webhook_id) == 'duplicate':
                return 200, {'content-type': 'application/json'}, json.dumps({'duplicate': True, 'id': webhook_id}).encode()
            handled = False
            try:
                handler(claims)
                handled = True
            finally:
                if self.deduplicate:
                    self.release(webhook_id, handled)
            return 200, {'content-type': 'application/json'}, json.dumps({'id': webhook_id, 'kid': kid, 'claims': claims}).encode()
        except Refused as refusal:
            return problem(refusal)
        finally:
            with self.lock:
                self.in_flight -= 1

    def claim(self, webhook_id):  # deduplication on webhook_id: one delivery handled at a time, handled ones answered as such
        with self.lock:
            if webhook_id in self.handling:
                raise Refused('WEBHOOK_DELIVERY_IN_PROGRESS', RETRY_AFTER)
            if self.handled.get(webhook_id, -math.inf) > self.clock():
                return 'duplicate'
            self.handling.add(webhook_id)
            return 'first'

    def release(self, webhook_id, handled):
        with self.lock:
            self.handling.discard(webhook_id)
            if handled:
                self.handled[webhook_id] = self.clock() + 4 * 86400


def problem(refusal):  # RFC 9457 problem details: the code and fixed text, nothing from the request
    status, title = (503 if refusal.code in RETRY_LATER else 401), refusal.code.removeprefix('WEBHOOK_').replace('_', ' ').capitalize()
    headers = {'content-type': 'application/problem+json'}
    if status == 401:
        headers['www-authenticate'] = 'Bearer error="invalid_token"'
    else:
        headers['retry-after'] = str(max(1, math.ceil(refusal.retry_after)))
    return status, headers, json.dumps({'type': f'urn:webhook-jwt:error:{refusal.code}', 'title': title, 'status': status, 'code': refusal.code}).encode()


class Handler(BaseHTTPRequestHandler):
    receiver = None

    def do_POST(self):
        length = self.headers.get('content-length', '0')
        if not length.isdigit() or int(length) > 1048576:  # no chunked bodies, none over 1 MiB
            self.send_error(411 if not length.isdigit() else 413)
            return
        status, headers, payload = self.receiver.handle({name.lower(): value for name, value in self.headers.items()}, self.rfile.read(int(length)))
        self.send_response(status)
        for name, value in {**headers, 'content-length': str(len(payload))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):
        pass  # one line per answer would go here; kept quiet for the example


def main():
    parser = argparse.ArgumentParser(description='A webhook-jwt receiver (docs/protocol.md)')
    parser.add_argument('--issuer', required=True)
    parser.add_argument('--jwks-url', required=True)
    parser.add_argument('--audience', required=True, action='append')
    parser.add_argument('--algorithms', default='ES256')
    parser.add_argument('--clock-tolerance', type=float, default=30)
    parser.add_argument('--max-token-age', type=float, default=300)
    parser.add_argument('--port', type=int, default=8080)
    options = parser.parse_args()
    Handler.receiver = Receiver(options.issuer, options.jwks_url, options.audience, options.algorithms.split(','),
                                clock_tolerance=options.clock_tolerance, max_token_age=options.max_token_age)
    server = ThreadingHTTPServer(('127.0.0.1', options.port), Handler)
    print(f'listening on http://127.0.0.1:{server.server_address[1]}', flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
