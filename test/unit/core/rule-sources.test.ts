// A rule's `source:` says where its thresholds come from. It must name a document the repository holds (the
// reference notes and seed documents under docs/reference/, or the docs of the code it cites), so that a reader
// can check it; this fails when it names none, or a repository file that does not exist.
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {parse} from 'yaml'
import {describe, expect, it} from 'vitest'
import {DEFAULT_RULES_DIR, PACKAGE_ROOT} from '../../../src/core/rules.js'

/** Top-level entries of the repository: a path in a source that starts with one of them is a repository path. */
const TOP_LEVEL = new Set(readdirSync(PACKAGE_ROOT).filter((e) => !e.startsWith('.') && e !== 'node_modules' && e !== 'dist'))

/** Path-like words: at least one directory and a file extension (doc/usage.md, docs/reference/x.md). */
const PATHS = /(?<![\w./-])(?:[\w-]+\/)+[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{1,5}(?![\w/])/g

function sourceProblems(source: unknown): string[] {
  if (typeof source !== 'string' || !source.trim()) return ['has no source']
  const problems: string[] = []
  let inRepo = 0
  for (const path of source.match(PATHS) ?? []) {
    if (TOP_LEVEL.has(path.split('/')[0])) {
      const full = join(PACKAGE_ROOT, path)
      if (existsSync(full) && statSync(full).isFile()) inRepo++
      else problems.push(`names ${path}, which is not a file in the repository`)
    } else if (existsSync(join(PACKAGE_ROOT, 'docs', path))) {
      // e.g. "reference/cache-queue-anchors.md": relative to a directory outside the repository, or to docs/
      problems.push(`names ${path}: write the repository path, docs/${path}`)
    }
  }
  if (inRepo === 0 && problems.length === 0) problems.push('names no document in the repository (e.g. docs/reference/...)')
  return problems
}

function ruleFiles(): string[] {
  return readdirSync(DEFAULT_RULES_DIR, {recursive: true, encoding: 'utf8'}).filter((f) => /\.ya?ml$/.test(f) && !/\.test\.ya?ml$/.test(f)).sort()
}

describe('rule sources', () => {
  it('every rule names a document in the repository, and every repository file it names exists', () => {
    const files = ruleFiles()
    expect(files.length).toBeGreaterThan(30)
    const problems = files.flatMap((f) => {
      const raw = parse(readFileSync(join(DEFAULT_RULES_DIR, f), 'utf8')) as {source?: unknown}
      return sourceProblems(raw.source).map((p) => `rules/${f}: source ${p}`)
    })
    expect(problems).toEqual([])
  })

  it('tells a missing or outside document from a repository one', () => {
    expect(sourceProblems('docs/reference/seeds/003_8a9b49b7f89ee537.txt, Monitoring Metrics: Queue Depth')).toEqual([])
    expect(sourceProblems('docs/reference/postgres-anchors.md sections 1.2 and 4: PgHero; PgBouncer doc/usage.md (cl_waiting)')).toEqual([])
    expect(sourceProblems('docs/reference/no-such-notes.md section 2')).toEqual(['names docs/reference/no-such-notes.md, which is not a file in the repository'])
    expect(sourceProblems('reference/cache-queue-anchors.md section 1')).toEqual(['names reference/cache-queue-anchors.md: write the repository path, docs/reference/cache-queue-anchors.md'])
    expect(sourceProblems('seed 003, Monitoring Metrics: Queue Depth <100 jobs target')).toEqual(['names no document in the repository (e.g. docs/reference/...)'])
    expect(sourceProblems(undefined)).toEqual(['has no source'])
  })
})
