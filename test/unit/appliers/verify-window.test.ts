/**
 * How long the index and drop-index appliers watch live traffic after a change: --verify-window when given (0
 * skips), else 60 s when one of their statements has calls in pg_stat_statements, else nothing.
 */
import {describe, expect, it} from 'vitest'
import {DEFAULT_VERIFY_WINDOW_MS, verifyWindowFor} from '../../../src/appliers/postgres-session.js'
import {applyContext} from '../../helpers/apply.js'

const busy = [{id: '1', sql: 'SELECT 1', calls: 30, meanMs: 2}]
const quiet = [{id: '2', sql: 'SELECT 2'}, {id: '3', sql: 'SELECT 3', calls: 0}]
const ctx = (verifyWindowMs?: number) => {
  const c = applyContext({url: 'postgres://x@127.0.0.1/db'})
  c.options = {...c.options, verifyWindowMs}
  return c
}

describe('verifyWindowFor', () => {
  it('defaults to 60 s when a statement has traffic, and to nothing when none has', () => {
    expect(DEFAULT_VERIFY_WINDOW_MS).toBe(60_000)
    expect(verifyWindowFor(ctx(undefined), busy)).toBe(60_000)
    expect(verifyWindowFor(ctx(undefined), [...quiet, ...busy])).toBe(60_000)
    expect(verifyWindowFor(ctx(undefined), quiet)).toBe(0)
    expect(verifyWindowFor(ctx(undefined), [])).toBe(0)
  })

  it('takes --verify-window when given: 0 skips, a window is watched even without earlier calls', () => {
    expect(verifyWindowFor(ctx(0), busy)).toBe(0)
    expect(verifyWindowFor(ctx(1500), quiet)).toBe(1500)
    expect(verifyWindowFor(ctx(1500), [])).toBe(0)
  })
})
