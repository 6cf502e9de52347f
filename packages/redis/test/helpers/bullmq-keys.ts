import { Redis } from 'ioredis'
import { Queue } from 'bullmq'

// What a test sees of a BullMQ queue from outside. Not a test file itself.

export type JobCounts = Record<'wait' | 'active' | 'delayed' | 'completed' | 'failed', number>

/** The queue's jobs by state, read through BullMQ on a connection of the test's own. */
export async function jobCounts (url: string, name: string, prefix: string): Promise<JobCounts> {
  const client = new Redis(url, { maxRetriesPerRequest: null })
  const queue = new Queue(name, { connection: client, prefix })
  try {
    return await queue.getJobCounts('wait', 'active', 'delayed', 'completed', 'failed') as JobCounts
  } finally {
    await queue.close()
    await client.quit()
  }
}

/** How many keys start with `prefix`. */
export async function countKeys (url: string, prefix: string): Promise<number> {
  const client = new Redis(url)
  try {
    return (await client.keys(`${prefix}*`)).length
  } finally {
    await client.quit()
  }
}

/** Kills the server-side connections named `name` (CLIENT KILL): their owner sees them drop. */
export async function killConnections (url: string, name: string): Promise<number> {
  const client = new Redis(url)
  try {
    const list = await client.client('LIST') as string
    const ids = list.split('\n').filter((line) => line.includes(` name=${name} `)).map((line) => /^id=(\d+)/.exec(line)?.[1] as string)
    for (const id of ids) await client.client('KILL', 'ID', id)
    return ids.length
  } finally {
    await client.quit()
  }
}
