/**
 * The per-target budget, the backstop behind the wire deadlines: a PostgreSQL that answers every query, each
 * within its deadline but too slowly for the audit ever to finish (every packet delayed), is abandoned when its
 * budget runs out (targetTimeoutMs here, in the library where no option schema applies), and the healthy target
 * next to it is read in full.
 */
import {afterEach, describe, expect, it} from 'vitest'
import {runAudit} from '../../../src/index.js'
import {startFaultProxy, type FaultProxy} from '../../helpers/fault-proxy.js'
import {PRIMARY_PORT, PRIMARY_URL} from '../../helpers/pg.js'

let proxy: FaultProxy | undefined
afterEach(async () => {
  await proxy?.close()
  proxy = undefined
})

describe('a target that answers, but too slowly to finish', () => {
  it('is abandoned at its budget, the probe it was in named, and the other target is read', async () => {
    proxy = await startFaultProxy({port: PRIMARY_PORT})
    proxy.delay(250)
    const started = performance.now()
    const {report, snapshot} = await runAudit({
      targets: [
        {name: 'slow', kind: 'postgres', url: proxy.url(PRIMARY_URL), options: {targetTimeoutMs: 4000}},
        {name: 'healthy', kind: 'postgres', url: PRIMARY_URL},
      ],
      windowSeconds: 0, failOn: 'never',
    })
    const elapsed = performance.now() - started
    process.stderr.write(`[budget] slow postgres abandoned after ${(elapsed / 1000).toFixed(1)} s\n`)
    // The budget, plus the healthy target's advisors and the closing.
    expect(elapsed).toBeLessThan(4000 + 5000)
    const slow = snapshot.readings.filter((r) => r.target === 'slow')
    const stalled = slow.find((r) => /stalled in collect: no answer within the target's budget of 4 s/.test(r.reason ?? ''))
    expect(stalled, slow.map((r) => `${r.probe}: ${r.status} ${r.reason ?? ''}`).join('\n')).toBeDefined()
    // Every probe after it says why it was not read.
    const after = slow.slice(slow.indexOf(stalled!) + 1)
    expect(after.every((r) => r.status === 'error' && r.reason === `not read: the connection was dropped when ${stalled!.probe} stalled in collect`)).toBe(true)
    expect(snapshot.readings.filter((r) => r.target === 'healthy' && r.status === 'error')).toEqual([])
    expect(report.gate).toMatchObject({incomplete: true, exitCode: 3})
  }, 60_000)
})
