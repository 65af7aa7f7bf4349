import {availableParallelism} from 'node:os'

/**
 * The default number of targets worked on at once. A target's work is mostly waiting (its round trips, its sampling
 * window), not this process's CPU, so more targets than cores run at once; the bound is for the servers and the
 * sockets a fleet shares (fifty databases on one PostgreSQL server are fifty connections to it), and at least 8 so
 * that a stack of one of each kind (postgres, pgbouncer, redis, rabbitmq, nats, prometheus) is never queued.
 * bench/fleet measures concurrency 1 to 16 on a 100-target fleet.
 */
export function defaultConcurrency(cpus = availableParallelism()): number {
  return Math.max(8, cpus * 4)
}

/** The most --concurrency accepts: beyond it a fleet is better split (each connection holds a server backend). */
export const MAX_CONCURRENCY = 256

/**
 * Runs at most `limit` tasks at once, the others queued in the order they came. A queued task's time starts when it
 * runs: the per-target budgets are taken inside the task, so waiting in the queue never counts against them.
 */
export class Limiter {
  private active = 0
  private readonly queue: Array<() => void> = []

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a whole number of at least 1, got ${limit}`)
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next in the queue, so a newcomer cannot take it in between.
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve))
    else this.active++
    try {
      return await task()
    } finally {
      const next = this.queue.shift()
      if (next) next()
      else this.active--
    }
  }

  /** Tasks running now (at most `limit`). */
  get running(): number {
    return this.active
  }
}
