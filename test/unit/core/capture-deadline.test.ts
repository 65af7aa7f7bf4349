/**
 * The capture's own bound on a target, for drivers with no deadlines of their own (a plugin's): a target that
 * stalls while connecting, in a baseline or in a collect is abandoned when its budget (targetTimeoutMs here) runs
 * out, its reading names the stage, the other targets are read, and the stalled connection is dropped.
 */
import {describe, expect, it} from 'vitest'
import {builtinRegistry} from '../../../src/builtin.js'
import {newSecrets} from '../../../src/cli/context.js'
import {CaptureSession, targetBudgetMs, TARGET_ALLOWANCE_MS} from '../../../src/core/capture.js'
import {definePlugin} from '../../../src/core/plugin.js'
import type {ConnectOptions, Driver, Probe} from '../../../src/core/probe.js'

/** Where a target of the test kind hangs (never settles), from its URL: stall://connect, stall://baseline ... */
type Stage = 'none' | 'connect' | 'baseline' | 'collect' | 'close'
interface Conn {stage: Stage; aborted: boolean; closed: boolean}
const never = () => new Promise<never>(() => {})

function stallPlugin(conns: Conn[], signals: AbortSignal[], {withAbort}: {withAbort: boolean}) {
  const driver: Driver<Conn> = {
    kind: 'stall',
    async connect(target, _log, _secrets, options?: ConnectOptions) {
      if (options?.signal) signals.push(options.signal)
      const stage = new URL(target.url).hostname as Stage
      if (stage === 'connect') return never()
      const conn = {stage, aborted: false, closed: false}
      conns.push(conn)
      return {conn, facts: {}}
    },
    async close(conn) {
      if (conn.stage === 'close') return never()
      conn.closed = true
    },
    ...(withAbort ? {abort: (conn: Conn) => void (conn.aborted = true)} : {}),
  }
  const probe: Probe<Conn> = {
    id: 'stall.read', kind: 'stall', description: 'reads, or hangs where told',
    baseline: async (conn) => (conn.stage === 'baseline' ? never() : 1),
    collect: async (conn) => (conn.stage === 'collect' ? never() : {metrics: []}),
  }
  const second: Probe<Conn> = {id: 'stall.second', kind: 'stall', description: 'runs after the first', collect: async () => ({metrics: []})}
  return definePlugin({
    name: 'stall-test',
    targetKinds: [{kind: 'stall', title: 'Stall', summary: 'a target that hangs', schemes: ['stall:'], example: 'stall://collect',
      options: {targetTimeoutMs: {type: 'number', description: 'budget'}},
      probeMetrics: {'stall.read': [], 'stall.second': []}, driver: async () => driver, probes: async () => [probe, second]}],
  })
}

async function capture(urls: string[], {withAbort = true, windowSeconds = 0.05} = {}) {
  const conns: Conn[] = []
  const signals: AbortSignal[] = []
  const session = new CaptureSession(urls.map((url, i) => ({name: `t${i}`, kind: 'stall', url, options: {targetTimeoutMs: 300}})),
    {registry: builtinRegistry(stallPlugin(conns, signals, {withAbort})), secrets: newSecrets(), windowSeconds})
  const started = performance.now()
  const snapshot = await session.sample()
  const sampled = performance.now() - started
  await session.close()
  return {snapshot, conns, signals, sampled, total: performance.now() - started}
}

describe('the budget of a target', () => {
  it('is the window plus a fixed allowance, or the targetTimeoutMs option', () => {
    expect(targetBudgetMs({name: 'a', kind: 'postgres', url: 'x'}, 5)).toBe(5000 + TARGET_ALLOWANCE_MS)
    expect(targetBudgetMs({name: 'a', kind: 'postgres', url: 'x', options: {targetTimeoutMs: 1500}}, 5)).toBe(1500)
    // Unusable values leave the derived budget.
    for (const bad of [-5, 0, 'abc', Number.POSITIVE_INFINITY, null, '']) {
      expect(targetBudgetMs({name: 'a', kind: 'postgres', url: 'x', options: {targetTimeoutMs: bad}}, 1)).toBe(1000 + TARGET_ALLOWANCE_MS)
    }
  })

  it('abandons a collect that never returns, names the stage, drops the connection and reads the other target', async () => {
    const {snapshot, conns, sampled} = await capture(['stall://collect', 'stall://none'])
    expect(sampled).toBeLessThan(2000)
    const [stalled, next] = snapshot.readings.filter((r) => r.target === 't0')
    expect(stalled).toMatchObject({probe: 'stall.read', status: 'error'})
    expect(stalled.reason).toMatch(/^stalled in collect: no answer within the target's budget of 0\.3 s/)
    expect(next).toMatchObject({probe: 'stall.second', status: 'error', reason: 'not read: the connection was dropped when stall.read stalled in collect'})
    expect(snapshot.readings.filter((r) => r.target === 't1').map((r) => r.status)).toEqual(['ok', 'ok'])
    expect(conns[0].aborted).toBe(true)
    expect(conns[1]).toMatchObject({aborted: false, closed: true})
  })

  it('abandons a baseline that never returns, and does not wait the window for it', async () => {
    const {snapshot, sampled} = await capture(['stall://baseline'], {windowSeconds: 5})
    expect(sampled).toBeLessThan(2000)
    expect(snapshot.readings[0].reason).toMatch(/^stalled in baseline: no answer within the target's budget/)
  })

  it('abandons a connect that never returns, aborting the signal the driver was given', async () => {
    const {snapshot, signals, sampled} = await capture(['stall://connect', 'stall://none'])
    expect(sampled).toBeLessThan(2000)
    expect(snapshot.targets[0]).toMatchObject({status: 'error'})
    expect(snapshot.targets[0].error).toMatch(/^could not connect: stalled in connect: no answer within the target's budget/)
    expect(snapshot.targets[1].status).toBe('ok')
    expect(signals[0].aborted).toBe(true)
    expect(signals[1].aborted).toBe(false)
  })

  it('without abort() in the driver, calls close() and does not wait for it; a close that hangs is cut short', async () => {
    const {snapshot, conns} = await capture(['stall://collect'], {withAbort: false})
    expect(snapshot.readings[0].reason).toMatch(/^stalled in collect/)
    expect(conns[0].closed).toBe(true)
    const {total} = await capture(['stall://close'])
    expect(total).toBeLessThan(5000)
  })
})
