/** Processes a test started: a free port to give one, and a stop that waits until the process is really gone. */
import {readFileSync} from 'node:fs'
import {createServer} from 'node:net'

/**
 * Ports handed to servers the tests start (redis-server, PgBouncer, Prometheus): 20000-24999, below the kernel's
 * ephemeral range (32768-60999 by default) and the harness's ports (25432-26432, test/helpers/pg.ts). A port the
 * kernel picked (listen on 0) is from the ephemeral range, where an outgoing connection can take it between the
 * moment we close our listener and the moment the server binds it.
 */
const PORT_RANGE = {from: 20_000, to: 25_000}
const given = new Set<number>()

function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (Number.isInteger(low) && Number.isInteger(high)) return [low, high]
  } catch {}
  return [32_768, 60_999]
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen({port, host: '127.0.0.1', exclusive: true}, () => server.close(() => resolve(true)))
  })
}

/** A TCP port on 127.0.0.1 that nothing uses now, outside the ephemeral range, not given before by this process. */
export async function freePort(): Promise<number> {
  const [low, high] = ephemeralRange()
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from))
    if (given.has(port) || (port >= low && port <= high)) continue
    given.add(port) // before the check: a concurrent call must not pick it meanwhile
    if (await canListen(port)) return port
    given.delete(port)
  }
  throw new Error(`freePort: no free port in ${PORT_RANGE.from}-${PORT_RANGE.to - 1} outside the ephemeral range ${low}-${high}`)
}

/** SIGTERM, then wait (up to `timeoutMs`) until the pid no longer exists, so the next test can reuse its port. */
export async function stopProcess(pid: number, timeoutMs = 10_000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    return
  }
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0)
    } catch {
      return
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}
