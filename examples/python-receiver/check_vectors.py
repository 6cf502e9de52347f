#!/usr/bin/python3
"""Runs receiver.py against the conformance vectors (docs/conformance/README.md): each case on a fresh Receiver
with the vectors' frozen clock, the case's key set (handed over as a fetch would return it, or an outage),
replay store and load, its requests in order. Prints each failure, then "N passed, N failed"; exits 1 on a failure.

    /usr/bin/python3 examples/python-receiver/check_vectors.py docs/conformance/vectors.json
"""
import base64, json, re, sys, threading
from receiver import Receiver


class StoreDown:
    def remember(self, key, expires_at, now):
        raise ConnectionError('the replay store is down')


def receiver_for(case, vectors):
    settings, max_age = case['receiver'], int(re.search(r'max-age=(\d+)', vectors['keySetCacheControl']).group(1))

    def fetch(url):
        if case['keySet'] is None:
            raise ConnectionError('the key set endpoint is down')
        return vectors['keySets'][case['keySet']], max_age, 0

    return Receiver(settings['issuer'], 'https://sender.example/.well-known/jwks.json', settings['audience'], settings['algorithms'],
                    header=settings['header'], clock_tolerance=settings['clockTolerance'], max_token_age=settings['maxTokenAge'],
                    max_token_bytes=settings['maxTokenBytes'], jwks_cooldown=settings['jwksCooldown'], deduplicate=settings['deduplicate'],
                    max_in_flight=0 if case['load'] == 'shedding' else 64, replay_store=StoreDown() if case['replayStore'] == 'down' else None,
                    fetch=fetch, clock=lambda: vectors['now'])


def send(receiver, request, handler=lambda claims: None):
    return receiver.handle(request['headers'], base64.b64decode(request['body']), handler)


def problems(answer, expected):
    """How an answer differs from the expected one, in words; empty when it is right."""
    status, headers, body = answer
    body = json.loads(body)
    if status != expected['status'] or body.get('code') != expected.get('code'):
        return [f"answered {status} {body.get('code', '')}, expected {expected['status']} {expected.get('code', '')}"]
    if status == 503 and not re.fullmatch(r'[1-9]\d*', headers.get('retry-after', '')):
        return ['a 503 without Retry-After']
    if status == 401 and not headers.get('www-authenticate', '').startswith('Bearer '):
        return ['a 401 without WWW-Authenticate']
    if 'claims' in expected and (body.get('kid') != expected['kid'] or body.get('claims') != expected['claims']):
        return [f"accepted with kid {body.get('kid')} and claims {body.get('claims')}, expected {expected['kid']} and {expected['claims']}"]
    if 'duplicate' in expected and body.get('duplicate') is not True:
        return ['not answered as a duplicate']
    return []


def run_case(case, vectors):
    """(request number, problems) for each request of the case."""
    receiver, requests, results, index = receiver_for(case, vectors), case['requests'], [], 0
    while index < len(requests):
        request = requests[index]
        if not request.get('hold'):
            results.append((index + 1, problems(send(receiver, request), request['expect'])))
            index += 1
            continue
        # This request's handler runs until the next request has been answered.
        entered, release, held = threading.Event(), threading.Event(), {}
        handler = lambda claims: (entered.set(), release.wait(10))
        thread = threading.Thread(target=lambda: held.update(answer=send(receiver, request, handler)))
        thread.start()
        while not entered.wait(0.01) and thread.is_alive():
            pass
        following = requests[index + 1]
        results.append((index + 2, problems(send(receiver, following), following['expect'])))
        release.set()
        thread.join()
        results.append((index + 1, problems(held['answer'], request['expect'])))
        index += 2
    return results


def main(path):
    with open(path, encoding='utf-8') as file:
        vectors = json.load(file)
    passed = failed = 0
    for case in vectors['cases']:
        for number, found in run_case(case, vectors):
            if found:
                failed += 1
                print(f"FAIL {case['id']} #{number}: {'; '.join(found)}")
            else:
                passed += 1
    print(f'{len(vectors["cases"])} cases (protocol version {vectors["protocolVersion"]}): {passed} requests passed, {failed} failed')
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else 'docs/conformance/vectors.json'))
