import {describe, expect, it} from 'vitest'
import {ProgressRenderer, type ProgressStream} from '../../../src/cli/progress.js'

function stream(isTTY: boolean): ProgressStream & {text: string} {
  const s = {text: '', isTTY, columns: 60, write(t: string) {
    s.text += t
    return true
  }}
  return s
}

describe('progress on stderr', () => {
  it('draws one bar line in place on a terminal, cleared when the last task ends, never wider than the terminal', () => {
    let now = 0
    const out = stream(true)
    const r = new ProgressRenderer({stream: out, now: () => now})
    const window = r.start('pg: sampling window', 10, 's')
    now += 1000
    window.tick(5)
    expect(out.text.split('\r\u001b[2K').pop()).toBe('pg: sampling window [##########----------] 50% 5/10 s')
    const plans = r.start('pg: index advisor what-if plans', null, 'plans')
    now += 1000
    plans.tick(340)
    const line = out.text.split('\r\u001b[2K').pop()!
    expect(line.startsWith('pg: sampling window [##########')).toBe(true)
    expect([...line].length).toBeLessThanOrEqual(59)
    // A message does not tear the bar: the line is cleared, the message written, the bar drawn again.
    r.log('cache: connecting')
    expect(out.text).toMatch(/\r\u001b\[2Kcache: connecting\n\r\u001b\[2Kpg: sampling window/)
    window.end()
    plans.end()
    expect(out.text.endsWith('\r\u001b[2K')).toBe(true)
    expect(out.text).not.toMatch(/\n$/)
  })

  it('takes a terminal that says it has 0 columns (an unsized pty) as 80 wide, not as the narrowest', () => {
    const out = stream(true)
    out.columns = 0
    let now = 0
    const r = new ProgressRenderer({stream: out, now: () => now})
    const window = r.start('postgres:127.0.0.1/shop: sampling window', 10, 's')
    now += 1000
    window.tick(5)
    expect(out.text.split('\r\u001b[2K').pop()).toBe('postgres:127.0.0.1/shop: sampling window [##########----------] 50% 5/10 s')
  })

  it('without a terminal, writes a plain line per task every interval, and one when a reported task ends', () => {
    let now = 0
    const out = stream(false)
    const r = new ProgressRenderer({stream: out, now: () => now, intervalMs: 5000})
    const keys = r.start('cache: key sample', 1000, 'keys')
    for (let i = 1; i <= 10; i++) {
      now += 1000
      keys.tick(i * 100)
    }
    keys.end()
    expect(out.text).toBe('progress: cache: key sample: 500/1000 keys (50%), 5s\nprogress: cache: key sample: 1000/1000 keys (100%), 10s\n'
      + 'progress: cache: key sample: 1000/1000 keys (100%), done, 10s\n')
    expect(out.text).not.toMatch(/\r|\u001b/)
    // A task quicker than the interval leaves no line at all.
    const quick = r.start('pg: sampling window', 2, 's')
    now += 2000
    quick.tick(2)
    quick.end()
    expect(out.text).not.toMatch(/sampling window/)
  })

  it('draws nothing with --quiet', () => {
    let now = 0
    for (const tty of [true, false]) {
      const out = stream(tty)
      const r = new ProgressRenderer({stream: out, quiet: true, now: () => now, intervalMs: 1})
      const t = r.start('pg: sampling window', 10, 's')
      now += 10_000
      t.tick(10)
      r.log('pg: connecting')
      t.end()
      expect(out.text).toBe('')
    }
  })
})
