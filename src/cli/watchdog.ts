/**
 * The last line of defence of "the process exits once the report is written": every driver closes what it opened,
 * but a client library (or a plugin's) can still leave a socket or timer behind, and then the process lives on with
 * its output long written (a CI job that never ends). A few seconds after a command finished, this exits with the
 * command's exit code and says on stderr what was still holding the event loop, so the leak can be found.
 */

/** How long after a command finished a process may still be busy before the watchdog exits it. */
export const EXIT_WATCHDOG_MS = 3000

/** `['TCPSocketWrap', 'Timeout', 'Timeout']` -> `TCPSocketWrap, Timeout x2`. */
export function describeResources(resources: string[]): string {
  const counts = new Map<string, number>()
  for (const r of resources) counts.set(r, (counts.get(r) ?? 0) + 1)
  return [...counts].map(([name, n]) => (n > 1 ? `${name} x${n}` : name)).join(', ') || 'nothing listed'
}

/**
 * Arms the watchdog. Its timer is unref'd: it never keeps the process alive itself, so it fires only when something
 * else does. The exit code is the one the command set (process.exitCode), as if the process had ended on its own.
 */
export function armExitWatchdog(ms = EXIT_WATCHDOG_MS): void {
  const timer = setTimeout(() => {
    const held = describeResources(process.getActiveResourcesInfo())
    const code = Number(process.exitCode ?? 0) || 0
    process.stderr.write(`chokepoint: still running ${ms / 1000} s after the command finished (event loop held by: ${held}); exiting with ${code}\n`)
    process.exit(code)
  }, ms)
  timer.unref()
}
