import { KeyStoreConflictError } from '../errors.ts'
import type { KeyStore, StoredKeySet } from './key-store.ts'

/**
 * A key store that lives and dies with the process: for tests and throw-away setups. A restart
 * loses every key, so receivers must refetch; use `fileKeyStore` or a shared store in production.
 *
 * @example
 * app.register(webhookProducer, { issuer: 'https://sender.test', keyStore: memoryKeyStore() })
 */
export function memoryKeyStore (): KeyStore {
  let stored: StoredKeySet | null = null
  return {
    description: 'memory',
    async read () {
      return stored === null ? null : structuredClone(stored)
    },
    async write (keySet, expectedRevision) {
      if ((stored?.revision ?? null) !== expectedRevision) throw new KeyStoreConflictError('memory')
      stored = structuredClone(keySet)
    }
  }
}
