/**
 * The exit watchdog: a process whose command finished but whose event loop something still holds exits a few
 * seconds later with the command's exit code, saying on stderr what held it; one that ends on its own never hears
 * from it. Each case runs a child process (tsx), as the CLI would.
 */
import {spawnSync} from 'node:child_process'
import {resolve} from 'node:path'
import {describe, expect, it} from 'vitest'
import {describeResources} from '../../../src/cli/watchdog.js'

const WATCHDOG = resolve(import.meta.dirname, '../../../src/cli/watchdog.ts')

function child(body: string) {
  const script = `import {armExitWatchdog} from ${JSON.stringify(WATCHDOG)}\n${body}`
  const started = performance.now()
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {encoding: 'utf8', timeout: 30_000})
  return {status: r.status, stderr: r.stderr, ms: performance.now() - started}
}

describe('the exit watchdog', () => {
  it('ends a process a leaked socket keeps alive, with the exit code set, naming what held it', () => {
    const r = child(`import {createServer} from 'node:net'
      createServer().listen(0, '127.0.0.1')
      process.exitCode = 3
      armExitWatchdog(500)`)
    expect(r.status).toBe(3)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^chokepoint: still running 0\.5 s after the command finished \(event loop held by: .*TCPServerWrap.*\); exiting with 3$/m)
  })

  it('says nothing and changes nothing when the process ends on its own', () => {
    const r = child(`process.exitCode = 1
      setTimeout(() => {}, 100)
      armExitWatchdog(500)`)
    expect(r.status).toBe(1)
    expect(r.stderr).toBe('')
    expect(r.ms).toBeLessThan(10_000)
  })

  it('counts the resources it lists', () => {
    expect(describeResources(['TCPSocketWrap', 'Timeout', 'Timeout'])).toBe('TCPSocketWrap, Timeout x2')
    expect(describeResources([])).toBe('nothing listed')
  })
})
