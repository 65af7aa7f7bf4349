import {describe, expect, it} from 'vitest'
import {defaultConcurrency, Limiter} from '../../../src/core/limiter.js'
import {sleep} from '../../../src/core/probe.js'

describe('Limiter', () => {
  it('never runs more than its limit at once, and runs every task, in the order they came', async () => {
    const limiter = new Limiter(3)
    let running = 0
    let peak = 0
    const started: number[] = []
    await Promise.all(Array.from({length: 20}, (_, i) => limiter.run(async () => {
      started.push(i)
      running++
      peak = Math.max(peak, running)
      await sleep(5 + (i % 4) * 3)
      running--
    })))
    expect(peak).toBe(3)
    expect(started).toEqual(Array.from({length: 20}, (_, i) => i))
  })

  it('hands a finished slot to the queue: a task arriving meanwhile does not jump in over the limit', async () => {
    const limiter = new Limiter(1)
    let running = 0
    let peak = 0
    const task = async () => {
      running++
      peak = Math.max(peak, running)
      await sleep(1)
      running--
    }
    const first = limiter.run(task)
    const queued = limiter.run(task)
    // Arrives in the same tick as the first one's end: it must wait behind the queued one.
    await first
    const late = limiter.run(task)
    await Promise.all([queued, late])
    expect(peak).toBe(1)
  })

  it('frees the slot of a task that throws', async () => {
    const limiter = new Limiter(1)
    await expect(limiter.run(async () => {
      throw new Error('boom')
    })).rejects.toThrow('boom')
    await expect(limiter.run(async () => 'next')).resolves.toBe('next')
    expect(limiter.running).toBe(0)
  })

  it('refuses a limit below 1', () => {
    expect(() => new Limiter(0)).toThrow(/at least 1/)
  })

  it('defaults to 4 per CPU, at least 8', () => {
    expect(defaultConcurrency(1)).toBe(8)
    expect(defaultConcurrency(2)).toBe(8)
    expect(defaultConcurrency(4)).toBe(16)
  })
})
