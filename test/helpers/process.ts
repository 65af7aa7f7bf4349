/** Processes a test started: a free port to give one, and a stop that waits until the process is really gone. */
export {freePort} from '../../src/demo/embedded-server.js'

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
