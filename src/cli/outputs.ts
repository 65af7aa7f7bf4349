import {existsSync, statSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {UsageError} from '../core/errors.js'
import {renderReport} from '../core/render.js'
import type {RunFiles} from '../core/reporter.js'
import {checkOutputFile, writeOutput} from '../core/snapshot-io.js'
import type {Report, Snapshot} from '../core/types.js'
import type {CliContext} from './context.js'
import {useColor, type CommonFlags} from './options.js'

/** One output of a run: a format, and the file it goes to (stdout without one). */
export interface OutputSpec {
  format: string
  path?: string
  /** The flag that named the path, for errors: `--output`, or `--format FORMAT`. */
  flag?: string
}

export interface OutputFlags {
  format?: string | string[]
  json?: boolean
  output?: string
  'sarif-anchor'?: string
}

/**
 * The outputs a run asked for: `--format FORMAT[=PATH]` (repeatable), `--json` (json on stdout), `--output FILE`
 * (the one format's file: only with a single format). At most one goes to stdout; none writes to a file another
 * writes. With no format, `fallback` on stdout (or in --output); with `fallbackOnStdout`, also when every format named
 * a file. Bad combinations are one-line usage errors (exit 2).
 * `extra` are formats the command renders itself (check's `terse`).
 */
export function parseOutputs(flags: OutputFlags, fallback: string, formats: string[], extra: string[] = [], {fallbackOnStdout = false} = {}): OutputSpec[] {
  const given = flags.format === undefined ? [] : Array.isArray(flags.format) ? flags.format : [flags.format]
  const known = [...extra, ...formats]
  const specs: OutputSpec[] = given.map((raw) => {
    const eq = raw.indexOf('=')
    const format = (eq < 0 ? raw : raw.slice(0, eq)).trim()
    const path = eq < 0 ? undefined : raw.slice(eq + 1)
    if (!known.includes(format)) throw new UsageError(`--format ${raw}: unknown report format "${format}": use one of ${known.join(', ')} (FORMAT or FORMAT=FILE)`)
    if (path !== undefined && path.trim() === '') throw new UsageError(`--format ${raw}: name the file after "=", or leave "=" out for stdout`)
    return path === undefined ? {format} : {format, path}
  })
  if (flags.json) specs.unshift({format: 'json'})
  if (specs.length === 0) specs.push({format: fallback})
  if (flags.output !== undefined) {
    if (specs.length > 1) throw new UsageError('--output names the file of a single format: with several, give each its own as --format FORMAT=FILE')
    if (specs[0].path !== undefined) throw new UsageError(`--output ${flags.output} and --format ${specs[0].format}=${specs[0].path}: name the file once`)
    specs[0] = {format: specs[0].format, path: flags.output, flag: '--output'}
  }
  // check keeps its verdict in the CI log when every format asked for goes to a file.
  if (fallbackOnStdout && specs.every((s) => s.path !== undefined)) specs.push({format: fallback})
  const toStdout = specs.filter((s) => s.path === undefined)
  if (toStdout.length > 1) {
    throw new UsageError(`--format: ${toStdout.map((s) => s.format).join(' and ')} would both go to stdout; give all but one a file as --format FORMAT=FILE`)
  }
  const seen = new Map<string, string>()
  for (const s of specs) {
    if (s.path === undefined) continue
    const where = resolve(s.path)
    const other = seen.get(where)
    if (other !== undefined) throw new UsageError(`--format ${other} and ${s.format} both write ${s.path}: give each its own file`)
    seen.set(where, s.format)
  }
  return specs
}

/** Before the audit: every file can be written (an audit is not run to fail on its output afterwards). */
export function checkOutputs(specs: OutputSpec[]): void {
  for (const s of specs) if (s.path !== undefined) checkOutputFile(s.path, s.flag ?? `--format ${s.format}`)
}

/**
 * Renders the report once per output and writes each (files first, stdout last); the audit behind it ran once.
 * `own` renders a format the command handles itself (check's terse lines).
 */
export async function writeOutputs(report: Report, specs: OutputSpec[], flags: CommonFlags & OutputFlags & {verbose?: boolean}, ctx: CliContext,
  extra: {snapshot?: Snapshot; configFile?: string; own?: (format: string) => string | undefined} = {}): Promise<void> {
  const files = runFiles(flags, extra.configFile)
  const warn = (line: string) => process.stderr.write(`${ctx.secrets.scrub(line)}\n`)
  const rendered: Array<{spec: OutputSpec; text: string}> = []
  for (const spec of specs) {
    const own = extra.own?.(spec.format)
    const text = own ?? await renderReport(report, spec.format, {...ctx, snapshot: extra.snapshot,
      options: {color: useColor(flags, spec.path !== undefined), verbose: Boolean(flags.verbose), files, warn}})
    rendered.push({spec, text})
  }
  writeRendered(rendered, ctx)
}

/** Writes rendered outputs, files first and stdout last (the terminal ends with what it shows), scrubbed of secrets. */
export function writeRendered(rendered: Array<{spec: OutputSpec; text: string}>, ctx: CliContext): void {
  for (const {spec, text} of [...rendered.filter((r) => r.spec.path !== undefined), ...rendered.filter((r) => r.spec.path === undefined)]) {
    writeOutput(text, spec.path, ctx.secrets, spec.flag ?? `--format ${spec.format}`)
  }
}

/**
 * Where the run's files are, for formats that point into the repository: the root is the nearest directory up with a
 * .git (else the working directory); the anchor is --sarif-anchor, else chokepoint.config.yaml (or .yml, .json) if
 * the working directory has one, else README.md.
 */
export function runFiles(flags: OutputFlags, configFile?: string): RunFiles {
  const cwd = process.cwd()
  let anchor = flags['sarif-anchor']
  if (anchor !== undefined && anchor.trim() === '') throw new UsageError('--sarif-anchor: expected a file of the repository')
  anchor ??= ['chokepoint.config.yaml', 'chokepoint.config.yml', 'chokepoint.config.json'].find((f) => existsSync(join(cwd, f))) ?? 'README.md'
  return {root: repositoryRoot(cwd), cwd, anchor: resolve(cwd, anchor), ...(configFile ? {config: resolve(cwd, configFile)} : {})}
}

function repositoryRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      // A worktree or submodule has a .git file, a checkout a .git directory.
      if (statSync(join(dir, '.git'), {throwIfNoEntry: false})) return dir
    } catch {
      // unreadable: keep going up
    }
    if (dirname(dir) === dir) return from
  }
}
