import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import type {ErrorObject, ValidateFunction} from 'ajv'
import {ConfigError} from './errors.js'
import {PACKAGE_ROOT} from './rules.js'

export type DocumentKind = 'snapshot' | 'report' | 'journal'

/** For each kind of saved document, the schema file (under schemas/) of each schemaVersion this build reads. */
export type SchemaFiles = Readonly<Record<Exclude<DocumentKind, 'journal'>, Readonly<Record<number, string>>>> & {readonly journal?: Readonly<Record<number, string>>}

export const SCHEMA_DIR = join(PACKAGE_ROOT, 'schemas')

// A new schemaVersion is one more line here; old lines stay so that old files keep loading.
export const SCHEMA_FILES: SchemaFiles = {
  snapshot: {1: 'snapshot.schema.json'},
  report: {1: 'report.v1.schema.json', 2: 'report.v2.schema.json', 3: 'report.schema.json'},
  journal: {1: 'journal.schema.json'},
}

const FIX: Record<DocumentKind, string> = {
  snapshot: 'write a fresh one with chokepoint capture',
  report: 'write a fresh one with chokepoint audit --format json',
  journal: 'a journal is written by chokepoint apply --confirm; do not edit it by hand',
}

// toISOString() output and other RFC 3339 forms; Date.parse alone accepts "2026" or "May 1".
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** Which kind a parsed file claims to be, from fields only that kind has; undefined if neither. (Journals are read by name.) */
export function documentKind(doc: unknown): Exclude<DocumentKind, 'journal'> | undefined {
  if (!isObject(doc)) return undefined
  if ('readings' in doc || 'capturedAt' in doc) return 'snapshot'
  if ('findings' in doc || 'gate' in doc || 'generatedAt' in doc) return 'report'
  return undefined
}

/**
 * Validates saved snapshots and reports against the shipped JSON schemas, choosing the schema by the document's
 * schemaVersion. Ajv is loaded and each schema compiled on first use: commands that never read a saved file
 * should not pay for either at startup.
 */
export class DocumentSchemas {
  private ajv: import('ajv').default | undefined
  private readonly compiled = new Map<string, ValidateFunction>()

  constructor(
    private readonly dir: string = SCHEMA_DIR,
    private readonly files: SchemaFiles = SCHEMA_FILES,
  ) {}

  /** The schemaVersions this build reads for a kind, oldest first. */
  versions(kind: DocumentKind): number[] {
    return Object.keys(this.files[kind] ?? {}).map(Number).sort((a, b) => a - b)
  }

  /**
   * Throws a ConfigError of one line, `file: /json/pointer: what was expected (how to fix)`, naming the first
   * field that does not match the schema of the document's schemaVersion.
   */
  check(kind: DocumentKind, doc: unknown, file: string): void {
    const fail = (path: string, problem: string): never => {
      throw new ConfigError(`${file}: ${path || '/'}: ${problem} (${FIX[kind]})`)
    }
    if (!isObject(doc)) return fail('', `must be an object, not ${typeName(doc)}`)
    const version = doc.schemaVersion
    const known = this.versions(kind)
    if (version === undefined) return fail('/schemaVersion', 'is required')
    if (typeof version !== 'number') return fail('/schemaVersion', `must be a number, not ${typeName(version)}`)
    const schemaFile = this.files[kind]?.[version]
    if (!schemaFile) {
      const newer = version > Math.max(...known) ? '; a newer chokepoint wrote it' : ''
      return fail('/schemaVersion', `${kind} version ${version} is not one this chokepoint reads (${known.join(', ')})${newer}`)
    }
    const validate = this.validator(schemaFile)
    if (validate(doc)) return
    const error = validate.errors?.[0]
    if (!error) return fail('', 'does not match its schema')
    return fail(...describe(error))
  }

  private validator(schemaFile: string): ValidateFunction {
    let validate = this.compiled.get(schemaFile)
    if (!validate) {
      const ajv = this.load()
      const id = (this.schema(schemaFile) as {$id?: string}).$id ?? schemaFile
      validate = ajv.getSchema(id)
      if (!validate) throw new Error(`schema ${schemaFile} did not compile`)
      this.compiled.set(schemaFile, validate)
    }
    return validate
  }

  private load(): import('ajv').default {
    if (this.ajv) return this.ajv
    // require, not import: a static import would load Ajv with every command; a dynamic one would make reading async.
    const {default: Ajv} = createRequire(import.meta.url)('ajv') as typeof import('ajv')
    // strict would warn on the console about the remedy schema's untyped if/then branches.
    const ajv = new Ajv({allErrors: false, strict: false, verbose: true})
    ajv.addFormat('date-time', (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)))
    // Every schema file of every version: they refer to each other (the snapshot uses the report's target).
    for (const file of new Set(Object.values(this.files).flatMap((byVersion) => Object.values(byVersion ?? {})))) {
      const schema = this.schema(file)
      ajv.addSchema(schema, (schema as {$id?: string}).$id ? undefined : file)
    }
    this.ajv = ajv
    return ajv
  }

  private schema(file: string): object {
    return JSON.parse(readFileSync(join(this.dir, file), 'utf8')) as object
  }
}

/** An Ajv error as [instance path, what was expected], worded for someone fixing the file. */
function describe(error: ErrorObject): [string, string] {
  const path = error.instancePath
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'required':
      return [`${path}/${String(params.missingProperty)}`, 'is required']
    case 'enum':
      return [path, `must be one of ${(params.allowedValues as unknown[]).map(show).join(', ')}`]
    case 'const':
      return [path, `must be ${show(params.allowedValue)}`]
    case 'type':
      return [path, `must be ${String(params.type).split(',').map(article).join(' or ')}, not ${typeName(error.data)}`]
    case 'additionalProperties':
      return [`${path}/${String(params.additionalProperty)}`, 'is not a known field']
    default:
      return [path, error.message ?? `fails ${error.keyword}`]
  }
}

// Values from the schema only, never from the file: a file's values could be anything, secrets included.
function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function article(type: string): string {
  if (type === 'null') return type
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  const type = typeof value
  return type === 'object' ? 'an object' : type === 'undefined' ? 'missing' : `a ${type}`
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
