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
    // The first task ends and a newcomer arrives a few microtasks later, in the same turn of the event loop: one of
    // these delays falls between the slot coming free and the queued task taking it (which delay depends on V8).
    const peaks: number[] = []
    for (let delay = 0; delay <= 10; delay++) {
      const limiter = new Limiter(1)
      let running = 0
      let peak = 0
      const track = async (work: () => Promise<unknown>) => {
        running++
        peak = Math.max(peak, running)
        await work()
        running--
      }
      let late: Promise<void> | undefined
      const arrive = (left: number): void => {
        if (left === 0) late = limiter.run(() => track(() => sleep(2)))
        else queueMicrotask(() => arrive(left - 1))
      }
      const first = limiter.run(() => track(() => new Promise<void>((resolve) => setTimeout(() => {
        resolve()
        arrive(delay)
      }, 2))))
      const queued = limiter.run(() => track(() => sleep(2)))
      await first
      await queued
      await late
      peaks.push(peak)
    }
    expect(peaks).toEqual(Array(11).fill(1))
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
