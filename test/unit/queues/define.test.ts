import {describe, expect, it} from 'vitest'
import {ProbeSkip} from '../../../src/core/errors.js'
import type {ProbeContext} from '../../../src/core/probe.js'
import {capQueues, defineQueueProbe, type QueueRead} from '../../../src/probes/queues/define.js'
import type {QueueReadingData, QueueState} from '../../../src/probes/queues/normalise.js'

const state = (over: Partial<QueueState>): QueueState => ({
  system: 'bullmq', name: 'q', depth: 0, oldestAgeSeconds: 0, consumers: 1, inFlight: 0, failed: 0, counters: {}, ...over,
})
const ctx = (windowSeconds: number): ProbeContext => ({target: {name: 't', kind: 'redis', url: 'redis://x'}, windowSeconds, options: {}, log: () => {}})

/** A probe over a scripted sequence of reads, one per call. */
function scripted(reads: QueueRead[], extra: {noQueues?: () => string; failure?: (r: QueueRead) => string | undefined} = {}) {
  let call = 0
  return defineQueueProbe<null>({id: 'queues.test', kind: 'redis', system: 'bullmq', description: 'test', read: async () => reads[call++], ...extra})
}

describe('defineQueueProbe', () => {
  it('differences the collect read against the baseline read over the window', async () => {
    const probe = scripted([
      {states: [state({depth: 100, counters: {arrivals: 1000}})], truncated: 0, notes: []},
      {states: [state({depth: 150, counters: {arrivals: 1100}})], truncated: 2, notes: ['2 beyond maxQueues']},
    ])
    const base = await probe.baseline!(null, ctx(10))
    const out = await probe.collect(null, ctx(10), base)
    const data = out.data as QueueReadingData
    expect(data).toMatchObject({kind: 'queues', system: 'bullmq', truncated: 2, notes: ['2 beyond maxQueues']})
    expect(data.queues[0]).toMatchObject({subject: 'bullmq:q', arrivalRate: 10, serviceRate: 5, netGrowth: 50})
    expect(out.metrics.find((m) => m.name === 'queue.depth')?.value).toBe(150)
    expect(out.status).toBeUndefined()
  })

  it('skips with the framework\'s reason when nothing was found, and reports an empty reading when it has none', async () => {
    const empty: QueueRead = {states: [], truncated: 0, notes: []}
    await expect(scripted([empty], {noQueues: () => 'no test queues'}).collect(null, ctx(0), undefined)).rejects.toThrow(new ProbeSkip('no test queues'))
    const out = await scripted([empty]).collect(null, ctx(0), undefined)
    expect((out.data as QueueReadingData).queues).toEqual([])
  })

  it('marks the reading as an error when the read reports a failure, keeping what it did read', async () => {
    const read: QueueRead = {states: [state({depth: 3})], truncated: 0, notes: ["queue 'gone' not found"]}
    const out = await scripted([read], {failure: (r) => r.notes.join('; ')}).collect(null, ctx(0), undefined)
    expect(out).toMatchObject({status: 'error', reason: "queue 'gone' not found"})
    expect(out.metrics.find((m) => m.name === 'queue.depth')?.value).toBe(3)
  })

  it('caps discovery at maxQueues and says how many it left out', () => {
    const notes: string[] = ['earlier note']
    expect(capQueues(['a', 'b', 'c', 'd'], 3, 'BullMQ queues', notes)).toEqual({kept: ['a', 'b', 'c'], truncated: 1})
    expect(notes).toEqual(['earlier note', '1 BullMQ queues beyond maxQueues (3) not read'])
    expect(capQueues(['a'], 3, 'BullMQ queues', notes)).toEqual({kept: ['a'], truncated: 0})
    expect(notes).toHaveLength(2)
  })
})
