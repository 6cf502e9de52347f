import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

interface TestContext { teardown(fn: () => unknown): void }

/** One request as the receiver got it. */
export interface ReceivedRequest {
  headers: IncomingMessage['headers']
  body: Buffer
  /** The token's claims, decoded (not verified: this receiver only records). */
  claims: Record<string, unknown>
  kid: string
}

/** A plain HTTP receiver on 127.0.0.1 that records every request and answers as `respond` says. */
export interface RawReceiver {
  url: string
  requests: ReceivedRequest[]
  respond: (response: ServerResponse, request: ReceivedRequest) => void
  /** Requests being answered right now. */
  inFlight: number
}

export async function startRawReceiver (t: TestContext, respond: RawReceiver['respond'] = (response) => { response.writeHead(204).end() }): Promise<RawReceiver> {
  const receiver: RawReceiver = { url: '', requests: [], respond, inFlight: 0 }
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    receiver.inFlight++
    response.on('close', () => { receiver.inFlight-- })
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const token = (request.headers.authorization ?? '').replace(/^Bearer /, '')
      const [header, payload] = token.split('.')
      const received: ReceivedRequest = {
        headers: request.headers,
        body: Buffer.concat(chunks),
        claims: JSON.parse(Buffer.from(payload ?? '', 'base64url').toString() || '{}') as Record<string, unknown>,
        kid: (JSON.parse(Buffer.from(header ?? '', 'base64url').toString() || '{}') as { kid?: string }).kid ?? ''
      }
      receiver.requests.push(received)
      receiver.respond(response, received)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`
  return receiver
}

/** Answers with a status, optional headers and an optional problem code. */
export function answer (status: number, options: { code?: string, headers?: Record<string, string> } = {}): RawReceiver['respond'] {
  return (response) => {
    if (options.code === undefined) {
      response.writeHead(status, options.headers).end()
      return
    }
    response.writeHead(status, { 'content-type': 'application/problem+json', ...options.headers }).end(JSON.stringify({ code: options.code }))
  }
}

/** Answers with each responder in turn, the last one for ever after. */
export function inTurn (...responders: Array<RawReceiver['respond']>): RawReceiver['respond'] {
  let next = 0
  return (response, request) => (responders[Math.min(next++, responders.length - 1)] as RawReceiver['respond'])(response, request)
}
