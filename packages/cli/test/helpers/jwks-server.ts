import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

// A key set endpoint written by hand on loopback, answering each path as the test says: the sets a sender
// may publish, and the ways an endpoint can fail (not a test file: tap runs only *.test.ts).

interface TestContext { teardown(fn: () => unknown): void }

/** How one path answers: a status, headers and body, or a function that does anything to the response. */
export type Answer = { status?: number, headers?: Record<string, string>, body: string, sendDate?: false } | ((request: IncomingMessage, response: ServerResponse) => void)

/** Listens on 127.0.0.1 on a free port until the test ends, answering `answers[path]` (404 for others); returns its base URL. */
export async function serveAnswers (t: TestContext, answers: Record<string, Answer>): Promise<string> {
  const server = createServer((request, response) => {
    const answer = answers[request.url as string] ?? { status: 404, body: 'not here' }
    if (typeof answer === 'function') return answer(request, response)
    if (answer.sendDate === false) response.sendDate = false
    response.writeHead(answer.status ?? 200, answer.headers ?? {})
    response.end(answer.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** A loopback port that was listening and is now closed: connecting to it is refused. */
export async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}
