import { median } from '../harness/median.ts'
import type { MicroSchedule } from '../harness/bench-options.ts'

/** A micro-benchmark's result: the medians over its timed runs. */
export interface OpsMeasure {
  opsPerSec: number
  /** `process.cpuUsage()` per operation: every thread of the process, the libuv threadpool included. */
  cpuMicrosPerOp: number
}

/** How operations are issued: one after the other, or this many kept in flight at once. */
export type Concurrency = 'sequential' | number

interface Sample {
  ops: number
  ms: number
  cpuMicros: number
}

async function timedRun (operation: () => unknown, concurrency: Concurrency, runMs: number): Promise<Sample> {
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const deadline = started + runMs
  let ops = 0
  if (concurrency === 'sequential') {
    while (performance.now() < deadline) {
      // A synchronous operation runs in batches, so that reading the clock costs nothing next to it.
      for (let i = 0; i < 16; i++) {
        const result = operation()
        if (result instanceof Promise) await result
        ops++
      }
    }
  } else {
    const lane = async (): Promise<void> => {
      while (performance.now() < deadline) {
        await operation()
        ops++
      }
    }
    await Promise.all(Array.from({ length: concurrency }, lane))
  }
  const ms = performance.now() - started
  const cpu = process.cpuUsage(cpuBefore)
  return { ops, ms, cpuMicros: cpu.user + cpu.system }
}

/** Warms `operation` up, then times it `schedule.runs` times and reports the medians. */
export async function measureOps (operation: () => unknown, concurrency: Concurrency, schedule: MicroSchedule): Promise<OpsMeasure> {
  await timedRun(operation, concurrency, schedule.warmupMs)
  const samples: Sample[] = []
  for (let run = 0; run < schedule.runs; run++) samples.push(await timedRun(operation, concurrency, schedule.runMs))
  return {
    opsPerSec: median(samples.map((sample) => (sample.ops * 1000) / sample.ms)),
    cpuMicrosPerOp: median(samples.map((sample) => sample.cpuMicros / sample.ops))
  }
}
