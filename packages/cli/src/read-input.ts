import { readFile } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { CliError } from './cli-error.ts'

/** Reads all of a stream: standard input, when the argument is `-`. */
async function readAll (stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer))
  return Buffer.concat(chunks)
}

/** A file's bytes, or standard input's for `-`; an unreadable file is a clear error naming it. */
export async function readBytes (path: string, stdin: Readable, what: string): Promise<Buffer> {
  if (path === '-') return await readAll(stdin)
  try {
    return await readFile(path)
  } catch (error) {
    throw new CliError('FILE_UNREADABLE', `cannot read the ${what} ${path}: ${(error as NodeJS.ErrnoException).code as string}`)
  }
}

const BEARER = /^bearer\s+/i

/**
 * The token argument: the compact token itself, or `-` to read it from standard input. A pasted header
 * value (`Bearer eyJ…`, `Authorization: Bearer eyJ…`) is accepted too; surrounding blanks are dropped.
 */
export async function readToken (argument: string, stdin: Readable): Promise<string> {
  const text = argument === '-' ? (await readAll(stdin)).toString('utf8') : argument
  return text.trim().replace(/^authorization:\s*/i, '').replace(BEARER, '').trim()
}
