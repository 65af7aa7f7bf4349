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
    [{targets: [{kind: 'oracle', url: 'oracle://x'}]}, /targets\[0\]\.kind: expected one of postgres/],
    [{targets: [{kind: 'redis'}]}, /targets\[0\]\.url: missing/],
    [{targets: [{kind: 'redis', url: 'redis://h', pasword: 'x'}]}, /targets\[0\]: unknown key "pasword"/],
    [{rules: {'latency/p95': {treshold: 1}}}, /rules\.latency\/p95: unknown key "treshold" \(allowed: enabled, target, action, severity, when, lookback, sustained, heuristic\)/],
    [{rules: {'database/cache-aside-candidate': {heuristic: {stalenesBudget: 0.1}}}}, /rules\.database\/cache-aside-candidate\.heuristic\.stalenesBudget: no such parameter \(expected one of minShare, .*stalenessBudget/],
    [{rules: {'database/cache-aside-candidate': {heuristic: {stalenessBudget: 'low'}}}}, /rules\.database\/cache-aside-candidate\.heuristic\.stalenessBudget: expected a number, got "low"/],
    [{rules: {'latency/p95': {heuristic: {x: 1}}}}, /rules\.latency\/p95\.heuristic\.x: no such parameter: the rule has none/],
    [{rules: {'latency/p95': {severity: 'fatal'}}}, /rules\.latency\/p95\.severity: expected critical, warning or info/],
    [{rules: {'resources/cpu': {lookback: 'a while'}}}, /rules\.resources\/cpu\.lookback: expected a duration from 1s to 7d such as "5m", got "a while"/],
    [{rules: {'resources/cpu': {lookback: '30d'}}}, /rules\.resources\/cpu\.lookback: expected a duration from 1s to 7d/],
    [{rules: {'resources/cpu': {sustained: 'yes'}}}, /rules\.resources\/cpu\.sustained: expected true or false/],
    [{rules: {'database/dead-tuples': {sustained: true}}}, /rules\.database\/dead-tuples\.sustained: needs a lookback/],
    [{rules: {'latency/p95': 'loud'}}, /rules\.latency\/p95: expected off, on, critical, warning, info or a mapping/],
    [{overrides: [{targets: 'x', rules: {}}]}, /overrides\[0\]\.targets: expected a list/],
    [{options: {mongo: {}}}, /options: unknown key "mongo"/],
    [{window: 'forever'}, /window: expected a duration/],
    [{options: {redis: {sampelKeys: 10}}}, /options\.redis: unknown key "sampelKeys" \(did you mean "sampleKeys"\?\)/],
    [{options: {redis: {sampleKeys: 'many'}}}, /options\.redis\.sampleKeys: expected a whole number from 1 to 1000000 \(redis\.keys: keys read at most.*\), got a string/],
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

describe('rule heuristics', () => {
  it('a config overrides some of a rule file\'s heuristic parameters, per rule and then per target', () => {
    const config = validateConfig({
      rules: {'database/cache-aside-candidate': {heuristic: {stalenessBudget: 0.05}}},
      overrides: [{targets: ['reports-*'], rules: {'database/cache-aside-candidate': {heuristic: {ttlFloorSeconds: 10}}}}],
    }, registry)
    const heuristicOf = (target: string) => effectiveRules(config, target, registry.rules()).find((r) => r.id === 'database/cache-aside-candidate')!.heuristic!
    const shipped = registry.rules().find((r) => r.id === 'database/cache-aside-candidate')!.heuristic!
    expect(shipped.stalenessBudget).toBe(0.01)
    expect(heuristicOf('primary')).toEqual({...shipped, stalenessBudget: 0.05})
    expect(heuristicOf('reports-1')).toEqual({...shipped, stalenessBudget: 0.05, ttlFloorSeconds: 10})
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

describe('option bounds and types', () => {
  const redis = (options: object) => ({targets: [{kind: 'redis', url: 'redis://h', options}]})
  const pg = (options: object) => ({targets: [{kind: 'postgres', url: 'postgres://u@h/db', options}]})

  it.each([
    // COUNT 1 (what 0 and negatives were clamped to) took a 0.7 s Redis audit to 9 s.
    [redis({scanCount: 0}), /targets\[0\]\.options\.scanCount: expected a whole number from 10 to 100 .*got 0$/],
    [redis({scanCount: -5}), /scanCount: expected a whole number from 10 to 100 .*got -5$/],
    [redis({scanCount: 101}), /scanCount: expected a whole number from 10 to 100/],
    [redis({scanCount: 12.5}), /scanCount: expected a whole number/],
    [redis({scanCount: '0'}), /scanCount: expected a whole number from 10 to 100 .*got "0"$/],
    [redis({queues: {scanCount: 0}}), /options\.queues\.scanCount: expected a whole number from 10 to 100/],
    [redis({sampleKeys: Infinity}), /sampleKeys: expected a whole number from 1 to 1000000 .*got Infinity$/],
    [redis({sampleKeys: NaN}), /sampleKeys: expected a whole number/],
    // 0 is "no timeout" to PostgreSQL: the session would run without a statement or lock timeout.
    [pg({statementTimeoutMs: 0}), /statementTimeoutMs: expected a whole number from 100 to 600000 .*got 0$/],
    [pg({statementTimeoutMs: '0'}), /statementTimeoutMs: expected a whole number from 100 to 600000/],
    [pg({lockTimeoutMs: 0}), /lockTimeoutMs: expected a whole number from 1 to 60000/],
    [pg({connectTimeoutMs: 0}), /connectTimeoutMs: expected a whole number from 100 to 120000/],
    [pg({statementTimeoutMs: 1e12}), /statementTimeoutMs: expected a whole number from 100 to 600000/],
    // The driver read it; no config may turn the read-only session off.
    [pg({readOnly: false}), /targets\[0\]\.options: unknown key "readOnly"/],
    [pg({indexAdvisor: {indexBudgetBytes: -5}}), /options\.indexAdvisor\.indexBudgetBytes: expected a whole number from 1 to/],
    [pg({indexAdvisor: {queries: [{weight: 2}]}}), /options\.indexAdvisor\.queries\[0\]: sql is required/],
    [pg({indexAdvisor: {minImprovment: 0.2}}), /options\.indexAdvisor: unknown key "minImprovment" \(did you mean "minImprovement"\?\)/],
    [{targets: [{kind: 'prometheus', url: 'http://p:9090', options: {mode: 'prometheus'}}]}, /options\.mode: expected one of server, scrape .*got "prometheus"$/],
    [{targets: [{kind: 'prometheus', url: 'http://p:9090', options: {basicAuth: {username: 'u'}}}]}, /options\.basicAuth: password is required/],
    [{options: {prometheus: {cpuCores: 0}}}, /options\.prometheus\.cpuCores: expected a number from 0\.01 to 100000/],
    [{options: {postgres: {constructor: 1}}}, /options\.postgres: unknown key "constructor"/],
    [JSON.parse('{"options": {"redis": {"__proto__": {"scanCount": 1}}}}'), /options\.redis: unknown key "__proto__"/],
  ])('rejects %j naming the key and the range', (raw, message) => {
    expect(() => validateConfig(raw, registry, 'c.yaml')).toThrow(message)
  })

  it('never shows a misplaced string value: it may be a password', () => {
    expect(() => validateConfig({options: {prometheus: {bearerToken: {value: 'hunter2-token'}}}}, registry)).toThrow(/bearerToken: expected a string .*got a mapping$/)
    expect(() => validateConfig(redis({sampleKeys: 'hunter2-token'}), registry)).toThrow(/got a string$/)
  })

  it('gives drivers and probes numbers where YAML wrote strings', () => {
    const config = validateConfig({...redis({sampleKeys: '2000'}), options: {postgres: {statementTimeoutMs: '5000'}}}, registry)
    expect(config.targets![0].options).toEqual({sampleKeys: 2000})
    expect(config.options!.postgres).toEqual({statementTimeoutMs: 5000})
  })

  it.each([
    [42, /targets\[0\]\.name: expected a name such as "primary", got 42/],
    [{first: 'a'}, /targets\[0\]\.name: expected a name .*got a mapping/],
    ['', /targets\[0\]\.name: expected a name/],
    ['two\nlines', /targets\[0\]\.name: must be one line/],
  ])('rejects the target name %j (a number reached the JSON report and crashed sorting)', (name, message) => {
    expect(() => validateConfig({targets: [{name, kind: 'redis', url: 'redis://h'}]}, registry, 'c.yaml')).toThrow(message)
  })

  it('rejects a rule switch that is not a boolean ("false" is a non-empty string: the rule stayed on)', () => {
    expect(() => validateConfig({rules: {'latency/p95': {enabled: 'false'}}}, registry)).toThrow(/rules\.latency\/p95\.enabled: expected true or false, got "false"/)
    expect(() => validateConfig({rules: {'latency/p95': {when: 'x'}}}, registry)).toThrow(/rules\.latency\/p95\.when: expected a mapping/)
  })

  it('rejects override target globs that are not strings', () => {
    expect(() => validateConfig({overrides: [{targets: [7], rules: {}}]}, registry)).toThrow(/overrides\[0\]\.targets\[0\]: expected a target name or glob/)
  })
})

describe('config files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cp-config-files-'))
  const load = (name: string, text: string) => {
    writeFileSync(join(dir, name), text)
    return () => loadConfigFile(registry, name, dir)
  }
  const oneLine = (fn: () => unknown): string => {
    try {
      fn()
    } catch (error) {
      const message = (error as Error).message
      expect(message.split('\n')).toHaveLength(1)
      return message
    }
    throw new Error('expected the load to fail')
  }

  it('turns a YAML warning into one line naming it (it printed a multi-line Node warning)', () => {
    expect(oneLine(load('tag.yaml', 'failOn: !!foo critical\n'))).toMatch(/not valid YAML at line 1, column 9: Unresolved tag: tag:yaml\.org,2002:foo$/)
  })

  it('gives YAML errors on one line with where they are', () => {
    expect(oneLine(load('dup.yaml', 'window: 5s\nwindow: 6s\n'))).toMatch(/not valid YAML at line 2, column 1: Map keys must be unique$/)
    expect(oneLine(load('open.yaml', 'rules: [unclosed\n'))).toMatch(/not valid YAML at line 2/)
  })

  it('says a --config that is a directory cannot be read (EISDIR was an internal error)', () => {
    expect(oneLine(() => loadConfigFile(registry, dir))).toMatch(/config .*: cannot read it \(EISDIR\): check the --config path$/)
  })

  it('refuses a file of several YAML documents (all but the first were dropped without a word)', () => {
    expect(oneLine(load('two.yaml', 'window: 5s\n---\nfailOn: never\n'))).toMatch(/not valid YAML at line 2, column 1: 2 documents \(separated by ---\): a config file is one$/)
  })

  it('refuses an alias bomb and deep nesting quickly, naming them', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`)].join('\n')
    expect(oneLine(load('bomb.yaml', bomb))).toMatch(/too many aliases/)
    expect(oneLine(load('deep.yaml', `x: ${'['.repeat(5000)}${']'.repeat(5000)}\n`))).toMatch(/not valid YAML.*nested more than/)
    expect(oneLine(load('deep.json', `{"x": ${'['.repeat(100)}${']'.repeat(100)}}`))).toMatch(/nested more than 64 levels deep/)
  })
})

describe('targets given to the library', () => {
  it('are held to the option schema before anything connects (readOnly: false reached the driver)', async () => {
    const {runAudit} = await import('../../../src/index.js')
    const audit = (options: Record<string, unknown>, name: unknown = 'db') =>
      runAudit({targets: [{name: name as string, kind: 'postgres', url: 'postgres://u@127.0.0.1:1/db', options}], windowSeconds: 0, failOn: 'never'})
    await expect(audit({readOnly: false})).rejects.toThrow(/targets\[0\] \(db\)\.options: unknown key "readOnly"/)
    await expect(audit({statementTimeoutMs: 0})).rejects.toThrow(/statementTimeoutMs: expected a whole number from 100 to 600000/)
    await expect(audit({}, 7)).rejects.toThrow(/targets\[0\]\.name: expected a name/)
  })
})
