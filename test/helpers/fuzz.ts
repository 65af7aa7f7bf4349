/**
 * Generators and oracles for the fuzz tests (issue 8): malformed config files, flags, snapshots and reports.
 *
 * A saved document is fuzzed by mutating a real one at paths chosen from its own structure (so a mutation lands on
 * fields chokepoint reads, not only on the top level): a key deleted, a value replaced by null, by another type,
 * by a huge, negative or fractional number, by unicode, by deep nesting, or the file truncated. Whether a
 * mutated file still keeps the contract is decided by the committed JSON schema through a separate validator
 * (the oracle), and, independently of any schema, by the fields design.md names as required.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import Ajv from 'ajv'
import fc from 'fast-check'
import {REPO_ROOT} from './cli.js'

export type JsonPath = Array<string | number>

/** Every path to a value inside `doc` (the root excluded), depth-first, at most `limit` of them. */
export function jsonPaths(doc: unknown, limit = 50_000): JsonPath[] {
  const out: JsonPath[] = []
  const walk = (value: unknown, path: JsonPath) => {
    if (out.length >= limit || value === null || typeof value !== 'object') return
    const entries: Array<[string | number, unknown]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value)
    for (const [key, child] of entries) {
      out.push([...path, key])
      walk(child, [...path, key])
    }
  }
  walk(doc, [])
  return out
}

export type Mutation = {op: 'delete'; path: JsonPath} | {op: 'set'; path: JsonPath; value: unknown}

/** A copy of `doc` with the mutations applied in order (a path that no longer exists is skipped). */
export function mutate(doc: unknown, mutations: readonly Mutation[]): unknown {
  const copy = structuredClone(doc)
  for (const m of mutations) {
    let parent: any = copy
    for (const key of m.path.slice(0, -1)) {
      parent = parent?.[key]
      if (parent === null || typeof parent !== 'object') break
    }
    if (parent === null || typeof parent !== 'object') continue
    const last = m.path[m.path.length - 1]
    if (!(last in parent)) continue
    if (m.op === 'set') parent[last] = m.value
    else if (Array.isArray(parent)) parent.splice(Number(last), 1)
    else delete parent[last]
  }
  return copy
}

function nested(depth: number, leaf: unknown, asArray: boolean): unknown {
  let value = leaf
  for (let i = 0; i < depth; i++) value = asArray ? [value] : {a: value}
  return value
}

/** Values that break a field: wrong types, nulls, extremes, unicode, deep nesting, bulk. */
export const badValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, 0, -1, -1e308, 1e308, 0.5, Number.MAX_SAFE_INTEGER + 2, '', 'x', '0', '-5', 'null',
    '\u0000', '\ud83d', 'é日本\u202e', '<password removed>', [], {}, [null], [[]], {'': null}, {__proto__: null, constructor: 1}),
  fc.integer({min: 2, max: 400}).map((d) => nested(d, 1, true)),
  fc.integer({min: 2, max: 400}).map((d) => nested(d, 'x', false)),
  fc.string({unit: 'grapheme', maxLength: 30}),
  fc.double({noNaN: true, noDefaultInfinity: true}),
  fc.integer({min: 1000, max: 20_000}).map((n) => 'x'.repeat(n)),
  fc.integer({min: 100, max: 5000}).map((n) => Array.from({length: n}, (_, i) => i)),
)

/** One to three mutations at paths of `paths`. */
export function mutations(paths: readonly JsonPath[]): fc.Arbitrary<Mutation[]> {
  const one: fc.Arbitrary<Mutation> = fc.oneof(
    fc.nat({max: paths.length - 1}).map((i) => ({op: 'delete' as const, path: paths[i]})),
    fc.record({i: fc.nat({max: paths.length - 1}), value: badValue}).map(({i, value}) => ({op: 'set' as const, path: paths[i], value})),
  )
  return fc.array(one, {minLength: 1, maxLength: 3})
}

export type DocumentCase = {kind: 'mutated'; mutations: Mutation[]; text: string; doc: unknown} | {kind: 'truncated'; at: number; text: string}

/** A saved document, mutated or truncated, as the text of a file. */
export function documentCase(doc: unknown): fc.Arbitrary<DocumentCase> {
  const text = JSON.stringify(doc, null, 2)
  const paths = jsonPaths(doc)
  return fc.oneof(
    {weight: 5, arbitrary: mutations(paths).map((ms): DocumentCase => {
      const mutated = mutate(doc, ms)
      return {kind: 'mutated', mutations: ms, text: JSON.stringify(mutated, null, 2), doc: mutated}
    })},
    // Inside the text: a cut after the last character could leave valid JSON.
    {weight: 1, arbitrary: fc.integer({min: 0, max: text.length - 2}).map((at): DocumentCase => ({kind: 'truncated', at, text: text.slice(0, at)}))},
  )
}

/**
 * Paths design.md names as required, by kind of document (`*` for any index): deleting one, or giving it a value
 * of another type, must fail the load. Independent of the schema files, so it also checks that they say enough.
 */
const REQUIRED: Record<'snapshot' | 'report', Array<{path: string[]; types: string[]}>> = {
  snapshot: [
    {path: ['schemaVersion'], types: ['number']},
    {path: ['capturedAt'], types: ['string']},
    {path: ['windowSeconds'], types: ['number']},
    {path: ['targets'], types: ['array']},
    {path: ['readings'], types: ['array']},
    {path: ['readings', '*'], types: ['object']},
    {path: ['readings', '*', 'target'], types: ['string']},
    {path: ['readings', '*', 'probe'], types: ['string']},
    {path: ['readings', '*', 'status'], types: ['string']},
    {path: ['readings', '*', 'metrics'], types: ['array']},
    {path: ['readings', '*', 'metrics', '*'], types: ['object']},
    {path: ['readings', '*', 'metrics', '*', 'name'], types: ['string']},
    {path: ['readings', '*', 'metrics', '*', 'value'], types: ['number', 'null']},
    {path: ['targets', '*', 'name'], types: ['string']},
    {path: ['targets', '*', 'kind'], types: ['string']},
    {path: ['targets', '*', 'status'], types: ['string']},
  ],
  report: [
    {path: ['schemaVersion'], types: ['number']},
    {path: ['generatedAt'], types: ['string']},
    {path: ['targets'], types: ['array']},
    {path: ['findings'], types: ['array']},
    {path: ['findings', '*'], types: ['object']},
    {path: ['findings', '*', 'id'], types: ['string']},
    {path: ['findings', '*', 'rule'], types: ['string']},
    {path: ['findings', '*', 'severity'], types: ['string']},
    {path: ['findings', '*', 'target'], types: ['string']},
    {path: ['findings', '*', 'subject'], types: ['string']},
    {path: ['findings', '*', 'message'], types: ['string']},
    {path: ['findings', '*', 'value'], types: ['number', 'null']},
    {path: ['findings', '*', 'remedies'], types: ['array']},
    {path: ['skipped'], types: ['array']},
    {path: ['summary'], types: ['object']},
    {path: ['gate'], types: ['object']},
    {path: ['gate', 'exitCode'], types: ['number']},
    {path: ['checks'], types: ['array']},
    {path: ['rules'], types: ['array']},
  ],
}

function jsonType(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
}

const matches = (pattern: string[], path: JsonPath) => pattern.length === path.length && pattern.every((p, i) => p === '*' ? typeof path[i] === 'number' : p === path[i])

/**
 * Whether a mutation surely breaks the contract: a required field deleted or given a value of another type. A
 * deleted array item is not (the array just holds one fewer), nor is a mutation under a path a later one deleted.
 */
export function breaksContract(kind: 'snapshot' | 'report', ms: readonly Mutation[], final: unknown): boolean {
  return ms.some((m) => REQUIRED[kind].some((r) => {
    if (!matches(r.path, m.path)) return false
    if (m.op === 'delete') return typeof m.path[m.path.length - 1] === 'string' && stillHasParent(final, m.path)
    return !r.types.includes(jsonType(m.value)) && jsonType(valueAt(final, m.path)) === jsonType(m.value)
  }))
}

function valueAt(doc: unknown, path: JsonPath): unknown {
  let v: any = doc
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined
    v = v[key]
  }
  return v
}

function stillHasParent(doc: unknown, path: JsonPath): boolean {
  const parent = valueAt(doc, path.slice(0, -1))
  return parent !== null && typeof parent === 'object' && !Array.isArray(parent) && !(String(path[path.length - 1]) in parent)
}

/** The committed schemas, through an Ajv of the test's own (lenient on date-time: the reader may be stricter). */
export function schemaOracle(): {snapshot: (doc: unknown) => boolean; report: (doc: unknown) => boolean} {
  const ajv = new Ajv.default({allErrors: false, strict: false})
  ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)))
  for (const file of ['report.schema.json', 'report.v2.schema.json', 'report.v1.schema.json', 'snapshot.schema.json']) {
    const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', file), 'utf8'))
    ajv.addSchema(schema, schema.$id ? undefined : file)
  }
  const get = (id: string) => ajv.getSchema(id) ?? (() => {
    throw new Error(`schema ${id} not found`)
  })()
  const snapshot = get('https://chokepoint.dev/schemas/snapshot.schema.json')
  const reportV3 = get('https://chokepoint.dev/schemas/report.schema.json')
  const reportV2 = get('https://chokepoint.dev/schemas/report.v2.schema.json')
  const reportV1 = ajv.getSchema('https://chokepoint.dev/schemas/report.v1.schema.json') ?? ajv.getSchema('report.v1.schema.json')
  return {
    snapshot: (doc) => Boolean(snapshot(doc)),
    report: (doc) => {
      const version = (doc as {schemaVersion?: unknown})?.schemaVersion
      if (version === 1 && reportV1) return Boolean(reportV1(doc))
      return version === 2 ? Boolean(reportV2(doc)) : Boolean(reportV3(doc))
    },
  }
}

/** One line on stderr, starting "error: ", naming the problem: not an internal error and no stack trace. */
export function usageProblem(stderr: string): string | undefined {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '')
  if (lines.length !== 1) return `${lines.length} lines on stderr`
  if (!lines[0].startsWith('error: ')) return 'not an "error: " line'
  if (/internal error/.test(lines[0])) return 'an internal error'
  if (/\n\s+at |\bat .*\(.*:\d+:\d+\)/.test(stderr)) return 'a stack trace'
  return undefined
}
