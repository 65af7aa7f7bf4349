import {describe, expect, it} from 'vitest'
import {ConfigError} from '../../../src/core/errors.js'
import {matchesTargetGlob, selectTargets} from '../../../src/core/selection.js'
import type {TargetSpec} from '../../../src/core/types.js'

const t = (name: string, group?: string): TargetSpec => ({name, kind: 'postgres', url: 'postgres://h/db', ...(group ? {group} : {})})
const fleet = [t('eu-pg-1', 'eu'), t('eu-pg-2', 'eu'), t('us-pg-1', 'us'), t('cache', 'caches'), t('postgres:db:5432/shop')]
const names = (targets: TargetSpec[]) => targets.map((x) => x.name)

describe('--target selection', () => {
  it('picks by name, by glob and by group, in the configured order, each target once', () => {
    expect(names(selectTargets(fleet, ['cache']))).toEqual(['cache'])
    expect(names(selectTargets(fleet, ['*-pg-1']))).toEqual(['eu-pg-1', 'us-pg-1'])
    expect(names(selectTargets(fleet, ['group:eu']))).toEqual(['eu-pg-1', 'eu-pg-2'])
    expect(names(selectTargets(fleet, ['cache', 'group:eu', 'eu-pg-1']))).toEqual(['eu-pg-1', 'eu-pg-2', 'cache'])
    expect(names(selectTargets(fleet, ['group:{eu,us}']))).toEqual(['eu-pg-1', 'eu-pg-2', 'us-pg-1'])
    expect(names(selectTargets(fleet, []))).toEqual(names(fleet))
  })

  it('matches globs as minimatch does, with / an ordinary character of a name', () => {
    expect(matchesTargetGlob('postgres:db:5432/shop', 'postgres:*')).toBe(true)
    expect(matchesTargetGlob('eu-pg-7', 'eu-pg-[0-9]')).toBe(true)
    expect(matchesTargetGlob('eu-pg-10', 'eu-pg-[0-9]')).toBe(false)
    expect(matchesTargetGlob('eu-pg-1', 'eu-pg-?')).toBe(true)
    expect(matchesTargetGlob('eu-pg-1', 'us-*')).toBe(false)
    expect(names(selectTargets(fleet, ['postgres:*']))).toEqual(['postgres:db:5432/shop'])
  })

  it('refuses a selector that picks nothing, naming the targets and groups there are', () => {
    expect(() => selectTargets(fleet, ['eu-pg-1', 'eu-redis-*'])).toThrow(ConfigError)
    expect(() => selectTargets(fleet, ['eu-redis-*'])).toThrow('--target eu-redis-*: matches no target; targets: eu-pg-1, eu-pg-2, us-pg-1, cache, postgres:db:5432/shop; groups: group:eu, group:us, group:caches')
    expect(() => selectTargets(fleet, ['group:asia'])).toThrow(/^--target group:asia: matches no group; targets: .*; groups: group:eu, group:us, group:caches$/)
    // A group selector never matches a target's name.
    expect(() => selectTargets(fleet, ['group:cache'])).toThrow(/matches no group/)
  })

  it('keeps the error to one line for a fleet of hundreds', () => {
    const big = Array.from({length: 300}, (_, i) => t(`db-${i}`))
    let message = ''
    try {
      selectTargets(big, ['nope'])
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/db-19 and 280 more; groups: none \(set group: on config targets\)$/)
    expect(message).not.toContain('\n')
  })
})
