import type { BenchSettings } from '../harness/bench-options.ts'
import type { MachineInfo } from '../harness/machine.ts'
import type { OpsMeasure } from '../micro/measure-ops.ts'
import type { CliSection } from '../sections/cli.ts'
import type { MemoryResult } from '../sections/memory.ts'
import type { ReceivingResult } from '../sections/receiving.ts'
import type { SendingSection } from '../sections/sending.ts'

/** Everything one `pnpm bench` run measured, and where. */
export interface BenchResults {
  machine: MachineInfo
  settings: Omit<BenchSettings, 'sections'> & { sections: string[] }
  startedAt: Date
  elapsedSec: number
  loadBefore: [number, number, number]
  loadAfter: [number, number, number]
  receiving: {
    results: ReceivingResult[]
    /** crypto.verify per algorithm, measured in the same run. */
    verifyFloors: Record<string, OpsMeasure>
    signingSec: number
  } | null
  sending: SendingSection | null
  memory: MemoryResult[] | null
  cli: CliSection | null
}

/** A contender whose answers were not all as expected: its figures are flagged, and it meets no target. */
export function receivingFailures (result: ReceivingResult): number {
  return result.non2xx + result.errors + (result.contender === 'a' ? 0 : result.tokensReused)
}

export function findReceiver (results: BenchResults, algorithm: string, contender: ReceivingResult['contender']): ReceivingResult | undefined {
  return results.receiving?.results.find((result) => result.algorithm === algorithm && result.contender === contender)
}

/** The floor of a verifying receiver's CPU per request: the bare route's, plus one crypto.verify. */
export function cpuFloorMicros (results: BenchResults, algorithm: string): number | undefined {
  const bare = findReceiver(results, algorithm, 'a')
  const verify = results.receiving?.verifyFloors[algorithm]
  return bare === undefined || verify === undefined ? undefined : bare.cpuMicrosPerRequest + verify.cpuMicrosPerOp
}
