import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {effectiveRules, loadConfigFile, resolveTargets, validateConfig} from '../../../src/core/config.js'
import {registry, testContext} from '../../helpers/context.js'

describe('config validation', () => {
  it('accepts a full config', () => {
    const config = validateConfig({
      window: '10s', failOn: 'warning',
      targets: [{name: 'primary', kind: 'postgres', url: 'postgres://u@h/db'}],
      rules: {'latency/p95': {target: '< 300ms', action: '> 800ms'}, 'cache/hit-rate': 'warning', 'queue/depth': 'off'},
      overrides: [{targets: ['replica-*'], rules: {'replication/lag': {action: '> 30s'}}}],
      options: {redis: {sampleKeys: 100}},
      skipProbes: ['postgres.plans', 'redis'],
    }, registry)
    expect(config.failOn).toBe('warning')
  })

  it.each([
    [{windw: '5s'}, /unknown key "windw" \(did you mean "window"\?\)/],
    [{failOn: 'fatal'}, /failOn: expected one of critical, warning, info, never/],
    [{targets: [{kind: 'mysql', url: 'mysql://x'}]}, /targets\[0\]\.kind: expected one of postgres/],
    [{targets: [{kind: 'redis'}]}, /targets\[0\]\.url: missing/],
    [{targets: [{kind: 'redis', url: 'redis://h', pasword: 'x'}]}, /targets\[0\]: unknown key "pasword"/],
    [{rules: {'latency/p95': {treshold: 1}}}, /rules\.latency\/p95: unknown key "treshold" \(allowed: enabled, target, action, severity, when\)/],
    [{rules: {'latency/p95': {severity: 'fatal'}}}, /rules\.latency\/p95\.severity: expected critical, warning or info/],
    [{rules: {'latency/p95': 'loud'}}, /rules\.latency\/p95: expected off, on, critical, warning, info or a mapping/],
    [{overrides: [{targets: 'x', rules: {}}]}, /overrides\[0\]\.targets: expected a list/],
    [{options: {mongo: {}}}, /options: unknown key "mongo"/],
    [{window: 'forever'}, /window: expected a duration/],
    [{options: {redis: {sampelKeys: 10}}}, /options\.redis: unknown key "sampelKeys" \(did you mean "sampleKeys"\?\)/],
    [{options: {redis: {sampleKeys: 'many'}}}, /options\.redis\.sampleKeys: expected a number/],
    [{targets: [{kind: 'redis', url: 'redis://h', options: {sampelKeys: 10}}]}, /targets\[0\]\.options: unknown key "sampelKeys" \(did you mean "sampleKeys"\?\)/],
    [{skipProbes: ['postgres.plan']}, /skipProbes\[0\]: no probe "postgres.plan" \(did you mean "postgres.plans"\?\)/],
    [{skipProbes: ['mongo']}, /skipProbes\[0\]: no probe "mongo"/],
  ])('rejects %j naming the key', (raw, message) => {
    expect(() => validateConfig(raw, registry, 'c.yaml')).toThrow(message)
  })

  it('finds chokepoint.config.yaml in the working directory and reads JSON too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cp-config-'))
    writeFileSync(join(dir, 'chokepoint.config.yaml'), 'failOn: warning\n')
    expect(loadConfigFile(registry, undefined, dir).config.failOn).toBe('warning')
    writeFileSync(join(dir, 'other.json'), '{"failOn": "info"}')
    expect(loadConfigFile(registry, 'other.json', dir).config.failOn).toBe('info')
    expect(() => loadConfigFile(registry, 'missing.yaml', dir)).toThrow(/not found/)
  })
})

describe('rule overrides', () => {
  const config = validateConfig({
    rules: {'replication/lag': {action: '> 10s'}, 'queue/depth': 'off', 'cache/hit-rate': 'info'},
    overrides: [{targets: ['replica-*'], rules: {'replication/lag': {action: '> 60s'}}}],
  }, registry)

  it('applies global overrides, then per-target blocks matched by glob', () => {
    const lag = (t: string) => effectiveRules(config, t, registry.rules()).find((r) => r.id === 'replication/lag')!
    expect(lag('primary').action).toBe('> 10s')
    expect(lag('replica-1').action).toBe('> 60s')
    expect(lag('replica-1').target).toBe('<= 1s')
    const rules = effectiveRules(config, 'primary', registry.rules())
    expect(rules.find((r) => r.id === 'queue/depth')!.enabled).toBe(false)
    expect(rules.find((r) => r.id === 'cache/hit-rate')!.severity).toBe('info')
  })
})

describe('targets', () => {
  it('combines config and flags, fills kinds from the environment, and rejects wrong schemes', () => {
    const targets = resolveTargets({targets: [{name: 'db', kind: 'postgres', url: 'postgres://u@h:5432/app'}]},
      {redis: ['redis://cache:6379']}, registry, testContext().secrets, {DATABASE_URL: 'postgres://ignored@h/x', NATS_URL: 'nats://n:4222'})
    expect(targets.map((t) => `${t.kind} ${t.name}`)).toEqual(['postgres db', 'redis redis:cache:6379', 'nats nats:n:4222'])
    expect(() => resolveTargets({}, {pg: ['redis://x']}, registry, testContext().secrets, {})).toThrow(/--pg: a postgres URL must start with postgres:\/\//)
    expect(() => resolveTargets({}, {pg: ['postgres://h/a', 'postgres://h/a']}, registry, testContext().secrets, {})).toThrow(/used twice/)
  })

  it.each([
    ['--pg', 'postgres:/u:pw-sekret@host/db'], ['--pg', 'postgres:u:pw-sekret@host/db'], ['--pg', 'postgres:///u:pw-sekret@host/db'],
    ['--redis', 'redis:/u:pw-sekret@host'],
  ])('rejects the mistyped URL %s %s without repeating its password', (flag, url) => {
    const flags = {[flag.slice(2)]: [url]}
    let message = ''
    try {
      resolveTargets({}, flags, registry, testContext().secrets, {})
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(new RegExp(`^${flag}: not a well-formed (postgres|redis) URL; write it as`))
    expect(message).not.toContain('pw-sekret')
  })

  it('builds a URL from libpq variables without putting the password in it', () => {
    const [t] = resolveTargets({}, {}, registry, testContext().secrets, {PGHOST: 'db', PGUSER: 'app', PGDATABASE: 'shop', PGPASSWORD: 'pw-from-env'})
    expect(t.url).toBe('postgres://app@db:5432/shop')
  })
})
