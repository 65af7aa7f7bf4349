/**
 * Properties of the validators over arbitrary input, in process and without servers (the CLI-level fuzzing is in
 * test/integration/cli/fuzz.test.ts): whatever a config or a saved document holds, validation either accepts it or
 * throws a ConfigError of one line, and what it accepts, the code after it handles.
 */
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {effectiveRules, resolveTargets, validateConfig} from '../../../src/core/config.js'
import {DocumentSchemas} from '../../../src/core/document-schema.js'
import {ConfigError} from '../../../src/core/errors.js'
import {registry, testContext} from '../../helpers/context.js'

function refusedOnOneLine(error: unknown): boolean {
  return error instanceof ConfigError && !error.message.includes('\n') && error.message.length < 2000
}

// Keys the validators know, so that generated input gets past the first check often enough to reach the next.
const knownKey = fc.constantFrom('window', 'failOn', 'targets', 'rules', 'overrides', 'options', 'skipProbes', 'name', 'kind', 'url',
  'postgres', 'redis', 'prometheus', 'latency/p95', 'cache/hit-rate', 'target', 'action', 'severity', 'when', 'enabled', 'sampleKeys',
  'scanCount', 'statementTimeoutMs', 'indexAdvisor', 'queries', 'sql', 'queues', 'basicAuth', 'mode', '__proto__', 'constructor')
const leaf = fc.oneof(fc.constantFrom<unknown>('5s', 'critical', 'off', 'warning', '< 300ms', '> 1s', 'postgres', 'redis', 'redis://h:6379',
  'postgres://u@h/db', 'http://p:9090', 'server', '10', '-1', 0, 50, 100, -1, 1e308, null, true), fc.string({maxLength: 10}), fc.double())
const configLike = fc.letrec<{node: unknown}>((tie) => ({
  node: fc.oneof({depthSize: 'small'}, leaf, fc.array(tie('node'), {maxLength: 3}), fc.dictionary(fc.oneof(knownKey, fc.string({maxLength: 6})), tie('node'), {maxKeys: 4})),
})).node

describe('validateConfig over arbitrary input', () => {
  it('accepts or refuses on one line, and what it accepts resolves and applies without a crash', () => {
    let accepted = 0
    fc.assert(fc.property(fc.oneof(configLike, fc.dictionary(knownKey, configLike, {maxKeys: 5})), (raw) => {
      let config
      try {
        config = validateConfig(raw, registry, 'c.yaml')
      } catch (error) {
        if (!refusedOnOneLine(error)) throw error
        return
      }
      accepted++
      try {
        const targets = resolveTargets(config, {}, registry, testContext().secrets, {})
        for (const t of [...targets.map((x) => x.name), 'replica-1']) effectiveRules(config, t, registry.rules())
      } catch (error) {
        if (!refusedOnOneLine(error)) throw error
      }
    }), {numRuns: 5000, seed: 42})
    expect(accepted).toBeGreaterThan(100)
  })
})

describe('saved-document validation over arbitrary input', () => {
  const schemas = new DocumentSchemas()
  it('accepts or refuses on one line', () => {
    const doc = fc.oneof(fc.anything(), fc.record({schemaVersion: fc.constantFrom<unknown>(1, 2, 3, '1', null), readings: fc.anything(), findings: fc.anything(), capturedAt: fc.anything()}, {requiredKeys: ['schemaVersion']}))
    fc.assert(fc.property(doc, fc.constantFrom('snapshot' as const, 'report' as const), (d, kind) => {
      try {
        schemas.check(kind, d, 'f.json')
      } catch (error) {
        if (!refusedOnOneLine(error)) throw error
      }
    }), {numRuns: 3000, seed: 42})
  })
})
