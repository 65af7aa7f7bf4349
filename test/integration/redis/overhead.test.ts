/**
 * The overhead report counts every command sent to a Redis target: the server's own count (INFO commandstats of a
 * redis-server nobody else uses, reset just before the audit) equals the commands the report lists, a pipeline
 * of N commands counting N (its one round trip is one entry, "pipeline ... xN").
 *
 * ioredis's own handshake (HELLO 3, CLIENT SETNAME) is recorded by the driver; its ready check and CLIENT SETINFO
 * are turned off, since nothing would record them.
 */
import {Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runAudit} from '../../../src/index.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'

let server: RedisServer
let admin: Redis

/** Commands the server executed or rejected since the last CONFIG RESETSTAT, by command. */
async function serverCounts(): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const line of (await admin.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+).*?(?:rejected_calls=(\d+))?/.exec(line.trim())
    if (m) out.set(m[1], Number(m[2]) + Number(m[3] ?? 0))
  }
  // The reset itself.
  out.delete('config|resetstat')
  return out
}

describe('the overhead report against the Redis server\'s command statistics', () => {
  beforeAll(async () => {
    server = await startRedis()
    admin = new Redis(server.url)
    const pipeline = admin.pipeline()
    for (let i = 0; i < 200; i++) {
      if (i % 2) pipeline.set(`session:${i}`, 'v', 'EX', 600)
      else pipeline.set(`cache:${i}`, 'v')
    }
    await pipeline.exec()
  }, 60_000)

  afterAll(async () => {
    admin?.disconnect()
    await server?.stop()
  })

  it('counts every command of an audit, the connection handshake included', async () => {
    await admin.config('RESETSTAT')
    const {report} = await runAudit({targets: [{name: 'cache', kind: 'redis', url: server.url, options: {scanPauseMs: 0}}], windowSeconds: 0, failOn: 'never'})
    const [overhead] = report.overhead ?? []
    let reported = 0
    for (const c of overhead.commands) reported += c.count * Number(/^pipeline .* x(\d+)$/.exec(c.text)?.[1] ?? 1)
    const executed = [...(await serverCounts()).values()].reduce((a, b) => a + b, 0)
    expect(reported).toBeGreaterThan(400)
    expect(reported, JSON.stringify(Object.fromEntries(await serverCounts()))).toBe(executed)
  }, 60_000)
})
