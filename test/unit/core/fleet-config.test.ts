import {describe, expect, it} from 'vitest'
import {resolveTargets, validateConfig, validateTargets} from '../../../src/core/config.js'
import {ConfigError} from '../../../src/core/errors.js'
import {registry, testContext} from '../../helpers/context.js'

describe('fleet settings in the config', () => {
  it('carries a target\'s group: into its TargetSpec', () => {
    const config = validateConfig({concurrency: 12, targets: [
      {name: 'eu-pg', kind: 'postgres', url: 'postgres://u@eu/db', group: 'eu-west'},
      {name: 'loose', kind: 'redis', url: 'redis://r:6379'},
    ]}, registry)
    expect(config.concurrency).toBe(12)
    const targets = resolveTargets(config, {}, registry, testContext().secrets, {})
    expect(targets.map((t) => [t.name, t.group])).toEqual([['eu-pg', 'eu-west'], ['loose', undefined]])
    expect('group' in targets[1]).toBe(false)
  })

  it('refuses a group that is not a plain name, in one line that says what a group may be', () => {
    for (const group of ['', 'eu west', 'group:eu', 7, 'x'.repeat(65), '-eu']) {
      expect(() => validateConfig({targets: [{kind: 'postgres', url: 'postgres://u@h/db', group}]}, registry, 'c.yaml'), String(group))
        .toThrow(/^config c\.yaml: targets\[0\]\.group: expected a group name of letters, digits, "_", "\." or "-" \(at most 64, e\.g\. "eu-west"\), got /)
    }
    expect(() => validateTargets([{name: 'a', kind: 'postgres', url: 'postgres://h/db', group: 'a b'}], registry)).toThrow(/targets\[0\]\.group: expected a group name/)
  })

  it('refuses a concurrency that is not a whole number from 1 to 256', () => {
    for (const concurrency of [0, -1, 2.5, 257, 'many', null]) {
      expect(() => validateConfig({concurrency}, registry, 'c.yaml'), String(concurrency)).toThrow(ConfigError)
    }
    expect(() => validateConfig({concurrency: 0}, registry, 'c.yaml')).toThrow('config c.yaml: concurrency: expected a whole number of targets from 1 to 256, got 0')
    expect(() => validateConfig({concurency: 4}, registry, 'c.yaml')).toThrow(/did you mean "concurrency"/)
  })
})
