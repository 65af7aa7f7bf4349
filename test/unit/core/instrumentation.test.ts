import {describe, expect, it} from 'vitest'
import {combineInstrumentation, type Instrumentation} from '../../../src/core/instrumentation.js'
import {CommandLog, errorType} from '../../../src/core/probe.js'

describe('combineInstrumentation', () => {
  it('forwards every event to each part that listens, past a part that throws', () => {
    const seen: string[] = []
    const listener: Instrumentation = {
      connectStart: (e) => seen.push(`connect ${e.target} ${e.kind}`),
      baselineEnd: (e) => seen.push(`baseline ${e.probe}`),
      advisorEnd: (e) => seen.push(`advisor ${e.advisor} ${e.findings}`),
      command: (e) => seen.push(`command ${e.text}`),
    }
    const thrower: Instrumentation = {connectStart: () => {
      throw new Error('observer broke')
    }}
    const combined = combineInstrumentation(thrower, listener, undefined)
    combined.connectStart?.({target: 't', kind: 'postgres', url: 'postgres://h/db'})
    combined.baselineEnd?.({target: 't', probe: 'p', durationMs: 1})
    combined.advisorEnd?.({advisor: 'a', durationMs: 1, findings: 2})
    combined.command?.({target: 't', probe: 'p', text: 'SELECT 1', roundTrips: 1})
    expect(seen).toEqual(['connect t postgres', 'baseline p', 'advisor a 2', 'command SELECT 1'])
    // Events no part listens to are absent, so an emitter can tell nobody wants them.
    expect(combined.probeStart).toBeUndefined()
  })
})

describe('CommandLog', () => {
  it('gives instrumentation the whole text as sent and the kind of a failure', async () => {
    const events: Array<{text: string; query?: string; errorType?: string}> = []
    const log = new CommandLog('db', {command: (e) => events.push(e)})
    const long = `SELECT a -- why\n FROM t WHERE ${'x = $1 AND '.repeat(20)}true`
    await log.run(long, async () => 1)
    await log.run('SELECT * FROM missing', async () => {
      throw Object.assign(new Error('relation "missing" does not exist'), {code: '42P01'})
    }).catch(() => {})
    expect(events[0].query).toBe(long)
    expect(events[0].text.length).toBe(160)
    expect(events[1].errorType).toBe('42P01')
  })
})

describe('errorType', () => {
  it('is the code, a Redis reply prefix, or the class name: never the message', () => {
    expect(errorType(Object.assign(new Error('x'), {code: 'ECONNRESET'}))).toBe('ECONNRESET')
    expect(errorType(Object.assign(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), {name: 'ReplyError'}))).toBe('WRONGTYPE')
    class DeadlineExceeded extends Error {
      override name = 'DeadlineExceeded'
    }
    expect(errorType(new DeadlineExceeded('no answer within 10 s from 10.0.0.1'))).toBe('DeadlineExceeded')
    expect(errorType('a string')).toBe('Error')
    expect(errorType(Object.assign(new Error('m'), {code: 'has spaces and values: 42'}))).toBe('Error')
  })
})
