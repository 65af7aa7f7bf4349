import {execFileSync} from 'node:child_process'
import {copyFileSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'
import {DocumentSchemas, SCHEMA_DIR, SCHEMA_FILES} from '../../../src/core/document-schema.js'
import {ConfigError} from '../../../src/core/errors.js'
import {readSavedDocument} from '../../../src/core/snapshot-io.js'

const here = dirname(fileURLToPath(import.meta.url))
const SNAPSHOT = join(here, 'fixtures', 'snapshot.v1.json')
const REPORT = join(here, 'fixtures', 'report.v1.json')
const tmp = mkdtempSync(join(tmpdir(), 'chokepoint-snapshot-io-'))

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/** Writes a copy of a fixture with one defect, named after the defect, and returns its path. */
function broken(fixture: string, name: string, mutate: (doc: Json) => void): string {
  const doc = JSON.parse(readFileSync(fixture, 'utf8')) as Json
  mutate(doc)
  const file = join(tmp, `${name}.json`)
  writeFileSync(file, JSON.stringify(doc, null, 2))
  return file
}

function errorOf(read: () => unknown): ConfigError {
  try {
    read()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).not.toContain('\n')
    return error as ConfigError
  }
  throw new Error('expected a ConfigError')
}

const CAPTURE = '(write a fresh one with chokepoint capture)'
const AUDIT = '(write a fresh one with chokepoint audit --format json)'

describe('readSavedDocument', () => {
  it('reads a valid snapshot as it is, and a valid version-1 report as version 3', () => {
    expect(readSavedDocument(SNAPSHOT)).toEqual({kind: 'snapshot', snapshot: JSON.parse(readFileSync(SNAPSHOT, 'utf8'))})
    const v1 = JSON.parse(readFileSync(REPORT, 'utf8'))
    const read = readSavedDocument(REPORT)
    if (read.kind !== 'report') throw new Error('expected a report')
    expect(read.report).toMatchObject({...v1, schemaVersion: 3, diagnosis: [], checks: [], checksOmitted: [], rules: [], findings: expect.any(Array)})
    const remedies = read.report.findings.flatMap((f) => f.remedies)
    expect(remedies.length).toBeGreaterThan(0)
    for (const r of remedies) expect(r.id).toMatch(/^[a-z-]+-[0-9a-f]{12}$/)
  })

  it('reads a version-2 report (checks, no diagnosis) as version 3 with an empty diagnosis, and validates it against the frozen v2 schema', () => {
    const read = readSavedDocument(REPORT)
    if (read.kind !== 'report') throw new Error('expected a report')
    const {diagnosis: _none, ...rest} = read.report
    const v2 = {...rest, schemaVersion: 2}
    const file = join(tmp, 'report.v2.json')
    writeFileSync(file, JSON.stringify(v2))
    const again = readSavedDocument(file)
    if (again.kind !== 'report') throw new Error('expected a report')
    expect(again.report).toEqual({...v2, schemaVersion: 3, diagnosis: []})
    // Version 3 requires the diagnosis: a v3 file without one is refused, a v2 file is not asked for it.
    writeFileSync(file, JSON.stringify({...v2, schemaVersion: 3}))
    expect(errorOf(() => readSavedDocument(file)).message).toBe(`${file}: /diagnosis: is required ${AUDIT}`)
  })

  it.each([
    ['bad-enum', (d: Json) => (d.readings[3].status = 'pending'), '/readings/3/status: must be one of ok, skipped, error'],
    ['wrong-type', (d: Json) => (d.readings[0].durationMs = '3ms'), '/readings/0/durationMs: must be a number, not a string'],
    ['null-metrics', (d: Json) => (d.readings[1].metrics = null), '/readings/1/metrics: must be an array, not null'],
    ['missing-field', (d: Json) => delete d.tool.version, '/tool/version: is required'],
    ['missing-top', (d: Json) => delete d.windowSeconds, '/windowSeconds: is required'],
    // Kinds are whatever the registry's plugins define, so the schema only requires a name.
    ['bad-target-kind', (d: Json) => (d.targets[1].kind = 42), '/targets/1/kind: must be a string, not a number'],
    ['bad-date', (d: Json) => (d.capturedAt = 'yesterday'), '/capturedAt: must match format "date-time"'],
    ['date-without-time', (d: Json) => (d.readings[4].takenAt = '2026-11-21'), '/readings/4/takenAt: must match format "date-time"'],
    ['bad-probe', (d: Json) => (d.readings[2].probe = 'Cache Hit'), '/readings/2/probe: must match pattern "^[a-z0-9-]+(\\.[a-z0-9-]+)+$"'],
    ['newer-version', (d: Json) => (d.schemaVersion = 2), '/schemaVersion: snapshot version 2 is not one this chokepoint reads (1); a newer chokepoint wrote it'],
    ['string-version', (d: Json) => (d.schemaVersion = '1'), '/schemaVersion: must be a number, not a string'],
    ['no-version', (d: Json) => delete d.schemaVersion, '/schemaVersion: is required'],
  ])('rejects a snapshot with %s on one line naming the field', (name, mutate, problem) => {
    const file = broken(SNAPSHOT, `snapshot-${name}`, mutate)
    expect(errorOf(() => readSavedDocument(file)).message).toBe(`${file}: ${problem} ${CAPTURE}`)
  })

  it.each([
    ['bad-enum', (d: Json) => (d.gate.exitCode = 2), '/gate/exitCode: must be one of 0, 1, 3'],
    ['wrong-type', (d: Json) => (d.findings[0].value = '12'), '/findings/0/value: must be a number or null, not a string'],
    ['missing-field', (d: Json) => delete d.summary, '/summary: is required'],
    // A kind-specific field, required through the schema's if/then: the inner error is the useful one.
    ['remedy-without-reason', (d: Json) => delete d.findings[1].remedies[0].reason, '/findings/1/remedies/0/reason: is required'],
    ['bad-const', (d: Json) => (d.tool.name = 'other'), '/tool/name: must be chokepoint'],
    ['unknown-version', (d: Json) => (d.schemaVersion = 7), '/schemaVersion: report version 7 is not one this chokepoint reads (1, 2, 3); a newer chokepoint wrote it'],
    ['old-version', (d: Json) => (d.schemaVersion = 0), '/schemaVersion: report version 0 is not one this chokepoint reads (1, 2, 3)'],
  ])('rejects a report with %s on one line naming the field', (name, mutate, problem) => {
    const file = broken(REPORT, `report-${name}`, mutate)
    expect(errorOf(() => readSavedDocument(file)).message).toBe(`${file}: ${problem} ${AUDIT}`)
  })

  it('names the document, not a field, when it is neither kind', () => {
    for (const [name, text] of [['array', '[]'], ['scalar', '42'], ['other', '{"hello": 1}']]) {
      const file = join(tmp, `${name}.json`)
      writeFileSync(file, text)
      expect(errorOf(() => readSavedDocument(file)).message).toMatch(/is neither a snapshot \(readings\) nor a report \(findings\)/)
    }
  })
})

describe('DocumentSchemas', () => {
  it('routes report versions 1, 2 and 3 to their own schema files', () => {
    expect(SCHEMA_FILES.report).toEqual({1: 'report.v1.schema.json', 2: 'report.v2.schema.json', 3: 'report.schema.json'})
    expect(SCHEMA_FILES.snapshot).toEqual({1: 'snapshot.schema.json'})
  })

  it('validates each report against the schema of its own schemaVersion', () => {
    // A stand-in for the coming version 2 (checks[] required), so the test does not wait for it.
    const dir = mkdtempSync(join(tmpdir(), 'chokepoint-schemas-'))
    for (const file of ['report.v1.schema.json', 'snapshot.schema.json']) copyFileSync(join(SCHEMA_DIR, file), join(dir, file))
    const v2 = JSON.parse(readFileSync(join(SCHEMA_DIR, 'report.v1.schema.json'), 'utf8')) as Json
    v2.$id = 'https://chokepoint.dev/schemas/report.schema.json'
    v2.properties.schemaVersion = {const: 2}
    v2.required.push('checks')
    v2.properties.checks = {type: 'array'}
    writeFileSync(join(dir, 'report.schema.json'), JSON.stringify(v2))
    const schemas = new DocumentSchemas(dir, {snapshot: {1: 'snapshot.schema.json'}, report: {1: 'report.v1.schema.json', 2: 'report.schema.json'}})

    const v1 = JSON.parse(readFileSync(REPORT, 'utf8')) as Json
    expect(() => schemas.check('report', v1, 'r1.json')).not.toThrow()
    expect(errorOf(() => schemas.check('report', {...v1, schemaVersion: 2}, 'r2.json')).message).toBe(`r2.json: /checks: is required ${AUDIT}`)
    expect(() => schemas.check('report', {...v1, schemaVersion: 2, checks: []}, 'r2.json')).not.toThrow()
    // The snapshot schema refers to the report schema's target definition; that still resolves.
    expect(() => schemas.check('snapshot', JSON.parse(readFileSync(SNAPSHOT, 'utf8')), 's.json')).not.toThrow()
  })

  it('does not load ajv until a saved document is read', () => {
    const script = `
      import {createRequire} from 'node:module'
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes('/node_modules/ajv/'))
      const io = await import(${JSON.stringify(join(here, '../../../src/core/snapshot-io.ts'))})
      const before = loaded()
      io.readSavedDocument(${JSON.stringify(SNAPSHOT)})
      console.log(JSON.stringify({before, after: loaded()}))`
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {encoding: 'utf8'})
    expect(JSON.parse(out)).toEqual({before: false, after: true})
  })
})
