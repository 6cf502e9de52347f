// A token-signing worker thread: signs the batches the harness asks for, so that both cores sign.
import { parentPort } from 'node:worker_threads'
import { signBatch, type SigningMaterial } from './sign-tokens.ts'

export interface SignRequest {
  id: number
  material: SigningMaterial
  start: number
  count: number
}

const port = parentPort
if (port === null) throw new Error('sign-tokens-worker.ts runs as a worker thread')
port.on('message', (request: SignRequest) => {
  const batch = signBatch(request.material, request.start, request.count)
  port.postMessage({ id: request.id, batch }, [batch.bytes.buffer as ArrayBuffer, batch.offsets.buffer as ArrayBuffer])
})
