// The live rotation demo: a producer on loopback, on the embedded defaults (a file key store in a
// temporary folder), rotates its key every few seconds while deliveries flow. A receiver that caches
// the JWKS for exactly its max-age, and never refetches early, verifies every one of them.
// It exits non-zero if any legitimate delivery fails.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose'
import webhookProducer, { fileKeyStore, type KeyTransitionEvent } from '@webhook-jwt/producer'

// `pnpm demo -- --rate 100` passes the `--` through: drop it.
const { values } = parseArgs({ args: process.argv.slice(2).filter((arg) => arg !== '--'), options: { rotations: { type: 'string', default: '3' }, rate: { type: 'string', default: '50' } } })
const rotations = Number(values.rotations)
const rate = Number(values.rate)
if (!Number.isInteger(rotations) || rotations < 1 || !(rate > 0)) {
  console.error('usage: pnpm demo [--rotations N (default 3)] [--rate deliveries-per-second (default 50)]')
  process.exit(2)
}

const ISSUER = 'https://sender.demo'
const AUDIENCE = 'https://receiver.demo/hooks'
const keyFile = join(mkdtempSync(join(tmpdir(), 'webhook-jwt-demo-')), 'signing-keys.json')
const app = Fastify()
await app.register(webhookProducer, { issuer: ISSUER, keyStore: fileKeyStore({ path: keyFile }), tokenTtl: 2, clockSkew: 0.5, jwks: { maxAge: 1 }, rotation: { every: 4.5 } })
const transitions: KeyTransitionEvent[] = []
const started = Date.now()
const seconds = (at: Date): string => `${((at.getTime() - started) / 1000).toFixed(1)}s`.padStart(6)
app.webhooks.on('transition', (event) => {
  transitions.push(event)
  console.log(`${seconds(event.at)}  key ${event.kid.slice(0, 8)}… ${event.from ?? 'created'} → ${event.to}`)
})
const jwksUrl = new URL('/.well-known/jwks.json', await app.listen({ port: 0, host: '127.0.0.1' }))
console.log(`producer on ${jwksUrl.origin}, keys in ${keyFile}; rotating every 4.5 s (publish 1.5 s ahead, retire 2.5 s after)\n`)

let cached: { keys: JSONWebKeySet, expiresAt: number } | null = null
async function keySet (): Promise<JSONWebKeySet> {
  if (cached === null || Date.now() >= cached.expiresAt) {
    const response = await fetch(jwksUrl)
    const maxAge = Number(/max-age=(\d+)/.exec(response.headers.get('cache-control') ?? '')?.[1])
    cached = { keys: await response.json() as JSONWebKeySet, expiresAt: Date.now() + maxAge * 1000 }
  }
  return cached.keys
}

const perKid = new Map<string, number>()
const failures = new Map<string, number>()
let sent = 0
while (transitions.filter((event) => event.to === 'retired').length < rotations) {
  const { token } = await app.webhooks.sign({ type: 'demo.tick', n: sent }, { audience: AUDIENCE })
  sent++
  const kid = decodeProtectedHeader(token).kid as string
  const keys = await keySet()
  if (!keys.keys.some((key) => key.kid === kid)) failures.set('unknown kid', (failures.get('unknown kid') ?? 0) + 1)
  else {
    try {
      await jwtVerify(token, createLocalJWKSet(keys), { typ: 'webhook+jwt', issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'] })
      perKid.set(kid, (perKid.get(kid) ?? 0) + 1)
    } catch (error) {
      const reason = (error as { code?: string }).code ?? 'error'
      failures.set(reason, (failures.get(reason) ?? 0) + 1)
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 1000 / rate))
}
await app.close()

const failed = [...failures.values()].reduce((a, b) => a + b, 0)
console.log(`\n${sent} deliveries signed, ${sent - failed} verified, ${failed} rejected`)
for (const [kid, count] of perKid) console.log(`  ${kid.slice(0, 8)}…  ${count} verified`)
for (const [reason, count] of failures) console.log(`  rejected (${reason}): ${count}`)
console.log(failed === 0 ? '\nzero failed verifications across every rotation' : '\nFAILED: some legitimate deliveries were rejected')
process.exit(failed === 0 ? 0 : 1)
