import { connect } from 'node:net'

// HTTP/1.1 written by hand on a socket to 127.0.0.1, for what fetch and inject cannot send: a request held
// open between its headers and the rest of its body, a body on GET, framing that does not add up. Every
// request asks for `Connection: close`, so an answer is complete when the server closes the connection.
// Shared by the packages' tests (not a test file itself: tap runs only *.test.ts).

/** How long a raw exchange may take before the test gives up on it. */
const ANSWER_DEADLINE_MS = 10_000

/** The first final answer on a connection (interim `100 Continue` answers are skipped). */
export interface RawAnswer {
  status: number
  headers: Record<string, string>
  body: string
  /** The problem-details `code`, when the body is one. */
  code: string | undefined
}

function parseAnswer (bytes: string): RawAnswer {
  let rest = bytes
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end === -1) throw new Error(`no complete answer in ${JSON.stringify(bytes.slice(0, 200))}`)
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n')
    const status = Number(statusLine.split(' ')[1])
    const body = rest.slice(end + 4)
    if (status >= 100 && status < 200) {
      rest = body
      continue
    }
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
    const length = headers['content-length']
    const content = length === undefined ? body : body.slice(0, Number(length))
    let code: string | undefined
    try {
      code = (JSON.parse(content) as { code?: string }).code
    } catch {}
    return { status, headers, body: content, code }
  }
}

/** The head of a request: its line, the given headers, `Host` and `Connection: close`. */
export function requestHead (method: string, path: string, headers: Record<string, string | number>): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${lines}\r\n`
}

/** A request on its own connection: write to it, then read its answer. */
export interface RawExchange {
  write(bytes: string | Buffer): void
  /** Ends the sending side: no more bytes will come, whatever the request announced. */
  end(): void
  answer: Promise<RawAnswer>
}

/** Opens a connection to 127.0.0.1:`port`, sends `first`, and reads until the server closes it. */
export function openExchange (port: number, first: string | Buffer): RawExchange {
  const socket = connect({ host: '127.0.0.1', port })
  const chunks: Buffer[] = []
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    // A server that answers early and closes may reset what is still being written: the answer read before
    // that still counts, so an error only matters when there is no answer.
    let failure: Error | undefined
    socket.setTimeout(ANSWER_DEADLINE_MS, () => socket.destroy(new Error(`no answer within ${ANSWER_DEADLINE_MS} ms`)))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', (error) => { failure = error })
    socket.on('close', () => {
      try {
        resolve(parseAnswer(Buffer.concat(chunks).toString('latin1')))
      } catch (error) {
        reject(failure ?? error)
      }
    })
  })
  // The reading starts now: an answer sent before the test awaits it is not lost, nor its rejection unhandled.
  answer.catch(() => {})
  socket.write(first)
  return { write: (bytes) => socket.write(bytes), end: () => socket.end(), answer }
}

/** Sends `bytes` as they are on a fresh connection and resolves the answer. */
export async function rawRequest (port: number, bytes: string | Buffer): Promise<RawAnswer> {
  return await openExchange(port, bytes).answer
}
