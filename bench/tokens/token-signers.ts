import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { SignedBatch, SigningMaterial } from './sign-tokens.ts'
import type { SignRequest } from './sign-tokens-worker.ts'

const WORKER_URL = new URL('./sign-tokens-worker.ts', import.meta.url).href
// Worker threads do not inherit `--import tsx`: the worker registers tsx, then loads the TypeScript entry.
const WORKER_BOOTSTRAP = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL)}) })`

/** One worker per core signs token batches; nothing is measured while they run. */
export class TokenSigners {
  readonly #workers: Worker[] = []
  readonly #pending = new Map<number, { resolve: (batch: SignedBatch) => void, reject: (error: Error) => void }>()
  #nextId = 0
  #nextWorker = 0

  constructor (count = availableParallelism()) {
    for (let i = 0; i < count; i++) {
      const worker = new Worker(WORKER_BOOTSTRAP, { eval: true })
      worker.on('message', ({ id, batch }: { id: number, batch: SignedBatch }) => {
        this.#pending.get(id)?.resolve(batch)
        this.#pending.delete(id)
      })
      worker.on('error', (error) => {
        for (const pending of this.#pending.values()) pending.reject(error)
        this.#pending.clear()
      })
      this.#workers.push(worker)
    }
  }

  /** Signs one batch on the next worker in turn. */
  async sign (material: SigningMaterial, start: number, count: number): Promise<SignedBatch> {
    const id = this.#nextId++
    const worker = this.#workers[this.#nextWorker++ % this.#workers.length] as Worker
    return await new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      worker.postMessage({ id, material, start, count } satisfies SignRequest)
    })
  }

  async close (): Promise<void> {
    await Promise.all(this.#workers.map(async (worker) => await worker.terminate()))
  }
}
