// The harness's ports live in scripts/test-env.sh and, for the tests, in test/helpers/pg.ts: this keeps the two
// equal, and keeps them and the ports tests give their own servers out of the kernel's ephemeral range.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {PGBOUNCER_PORT, PRIMARY_PORT, REPLICA_PORT} from '../../helpers/pg.js'
import {freePort} from '../../helpers/process.js'
import {REPO_ROOT} from '../../helpers/cli.js'
import {MARIADB_PORT, MARIADB_REPLICA_PORT} from '../../helpers/mariadb.js'

const script = readFileSync(join(REPO_ROOT, 'scripts', 'test-env.sh'), 'utf8')
const scriptPort = (name: string) => Number(new RegExp(`^${name}=(\\d+)$`, 'm').exec(script)?.[1])

/** Linux's default; a machine with a wider range must not make the test pass where the default would not. */
function ephemeralLow(): number {
  try {
    return Math.min(32_768, Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]))
  } catch {
    return 32_768
  }
}

describe('test harness ports', () => {
  it('scripts/test-env.sh binds the ports the tests connect to', () => {
    expect({primary: scriptPort('PRIMARY_PORT'), replica: scriptPort('REPLICA_PORT'), bouncer: scriptPort('BOUNCER_PORT'),
      mariadb: scriptPort('MDB_PRIMARY_PORT'), mariadbReplica: scriptPort('MDB_REPLICA_PORT')})
      .toEqual({primary: PRIMARY_PORT, replica: REPLICA_PORT, bouncer: PGBOUNCER_PORT, mariadb: MARIADB_PORT, mariadbReplica: MARIADB_REPLICA_PORT})
  })

  it('lie below the ephemeral range, so no outgoing connection can hold one when the harness binds it', () => {
    for (const port of [PRIMARY_PORT, REPLICA_PORT, PGBOUNCER_PORT, MARIADB_PORT, MARIADB_REPLICA_PORT]) expect(port).toBeLessThan(ephemeralLow())
  })

  it('freePort gives servers the tests start a port below the ephemeral range, apart from the harness ports, never twice', async () => {
    const ports = await Promise.all(Array.from({length: 20}, () => freePort()))
    expect(new Set(ports).size).toBe(ports.length)
    for (const port of ports) {
      expect(port).toBeLessThan(ephemeralLow())
      expect([PRIMARY_PORT, REPLICA_PORT, PGBOUNCER_PORT, MARIADB_PORT, MARIADB_REPLICA_PORT]).not.toContain(port)
    }
  })
})
