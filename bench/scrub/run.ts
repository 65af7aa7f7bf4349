/**
 * SecretRegistry.scrub benchmark; results in bench/results/scrub.json.
 *
 * Every rendered report, snapshot, error and progress line goes through scrub(), so its cost must stay linear in
 * the text: a JSON report of a large stack is megabytes. Each case is 1 MiB of text (and 128 KiB, for the scaling
 * ratio), scrubbed by a registry without secrets and by one holding secrets that occur in the text, so both the
 * structural pass (URL passwords, secret query parameters) and the token pass (registered secrets as whole tokens)
 * are exercised. Adversarial cases: many partial URL shapes in one run without separators (`x://a:`, `p://u:x@h,`,
 * `a:b:c@`, `x:y`), and long runs of identifier characters (ASCII, non-ASCII, escapes) in which a registered
 * secret occurs at every position.
 *
 * Baselines of the same run: `floor`, one regex pass over the same text (what a linear scan costs on this machine
 * now), and `before`, the scrubber of another revision (default: the branch point of issue 8), loaded from git.
 * Budget: every case under 50 ms at 1 MiB, and time(1 MiB) / time(128 KiB) near 8 (linear), not 64.
 *
 * Run: npx tsx bench/scrub/run.ts [--rounds N] [--before REV|none] [--before-rounds N]
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {SecretRegistry} from '../../src/core/redact.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const RESULTS = join(ROOT, 'bench', 'results', 'scrub.json')
const BUDGET_MS = 50

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback
}
const ROUNDS = Number(arg('rounds', '7'))
/** The scrubber as it was before issue 8 (quadratic on runs of partial URLs); `none` skips it. */
const BEFORE = arg('before', '86fd6f8')
// One round: the old scrubber takes seconds per adversarial case.
const BEFORE_ROUNDS = Number(arg('before-rounds', '1'))
const SIZE = 1 << 20
const SMALL = 1 << 17

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits
const log = (message: string) => process.stderr.write(`[bench/scrub] ${message}\n`)

const repeat = (unit: string, n: number) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n)

/** A compact JSON report: what `--format json` output looks like, URLs with and without passwords included. */
function reportLike(n: number): string {
  const findings: object[] = []
  let text = ''
  for (let i = 0; text.length < n; i++) {
    findings.push({
      id: `f${i.toString(16).padStart(15, '0')}`, rule: 'database/unused-index', target: `postgres:db-${i % 7}:5432/shop`,
      subject: `public.orders_${i}`, message: `index public.orders_${i}_idx is unused (hunter2-pw not here)`,
      evidence: {url: i % 3 ? `postgres://app@db-${i}:5432/shop` : `postgres://app:hunter2-pw@db-${i}:5432/shop`, sql: `SELECT * FROM t${i} WHERE a = $1`},
    })
    if (i % 200 === 0) text = JSON.stringify({findings})
  }
  return JSON.stringify({findings}).slice(0, n)
}

interface Case {
  name: string
  text: (n: number) => string
}

const CASES: Case[] = [
  {name: 'report-json', text: reportLike},
  {name: 'prose-with-urls', text: (n) => repeat('connect postgres://app:s3cr3t-pw@db:5432/shop failed: timeout after 5s; retry hunter2-pw later. ', n)},
  {name: 'partial-urls: x://a:', text: (n) => repeat('x://a:', n)},
  {name: 'partial-urls: p://u:x@h,', text: (n) => repeat('p://u:x@h,', n)},
  {name: 'partial-urls: a:b:c@', text: (n) => repeat('a:b:c@', n)},
  {name: 'partial-urls: x:y', text: (n) => repeat('x:y', n)},
  {name: 'partial-urls: mixed', text: (n) => repeat('s://u:p,x://a:b:c@q?token=1&x:y;', n)},
  {name: 'ident-run: ascii', text: (n) => 'a'.repeat(n)},
  {name: 'ident-run: non-ascii', text: (n) => 'é'.repeat(n)},
  {name: 'ident-run: escapes', text: (n) => repeat('%41aaaa\\naaaa\\u0041aaaa', n)},
  {name: 'ident-run: joiners', text: (n) => repeat('aaaa-', n)},
  {name: 'secret-dense', text: (n) => repeat('hunter2-pw ', n)},
]

/** Secrets that occur in the cases' text, so the token pass has work (hits, overlaps, near misses). */
const SECRETS = ['hunter2-pw', 's3cr3t-pw', 'aaaa', 'aaaa-aaaa', 'éééé', 'u:x', 'x'.repeat(40)]

type Scrubber = {new (): {register(s: string): void; scrub(t: string): string}}

function registry(Impl: Scrubber, withSecrets: boolean) {
  const r = new Impl()
  if (withSecrets) for (const s of SECRETS) r.register(s)
  return r
}

function time(fn: () => void, rounds: number): number {
  const samples: number[] = []
  for (let i = 0; i < rounds; i++) {
    const t = performance.now()
    fn()
    samples.push(performance.now() - t)
  }
  return median(samples)
}

async function loadBefore(): Promise<Scrubber | undefined> {
  if (BEFORE === 'none') return undefined
  const dir = mkdtempSync(join(tmpdir(), 'cp-scrub-before-'))
  try {
    // redact.ts imports nothing, so the file alone is the whole old scrubber.
    const source = execFileSync('git', ['show', `${BEFORE}:src/core/redact.ts`], {cwd: ROOT, encoding: 'utf8'})
    const file = join(dir, 'redact.ts')
    writeFileSync(file, source)
    return (await import(pathToFileURL(file).href)).SecretRegistry as Scrubber
  } catch (error) {
    log(`no "before" baseline: ${(error as Error).message.split('\n')[0]}`)
    return undefined
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

async function main(): Promise<void> {
  const Before = await loadBefore()
  const results: Array<Record<string, unknown> & {ms: number}> = []
  // Every case of this build first, then the old scrubber's: its seconds of garbage must not be collected during
  // this build's timings.
  for (const c of CASES) {
    const big = c.text(SIZE)
    const small = c.text(SMALL)
    for (const withSecrets of [false, true]) {
      const after = registry(SecretRegistry, withSecrets)
      // A warm-up, so the JIT has compiled the scrubber before it is timed.
      after.scrub(small)
      const ms = time(() => after.scrub(big), ROUNDS)
      const msSmall = time(() => after.scrub(small), ROUNDS)
      const floor = time(() => big.match(/[:@]/g)?.length, ROUNDS)
      results.push({case: c.name, secrets: withSecrets, chars: big.length, ms: round(ms), withinBudget: ms < BUDGET_MS, scaling: round(ms / msSmall), floorMs: round(floor)})
      log(`${c.name}${withSecrets ? ' +secrets' : ''}: ${round(ms)} ms (x${round(ms / msSmall)} for 8x the text; floor ${round(floor)} ms)`)
    }
  }
  if (Before) {
    for (const entry of results) {
      const c = CASES.find((x) => x.name === entry.case)!
      const big = c.text(SIZE)
      const small = c.text(SMALL)
      const old = registry(Before, entry.secrets as boolean)
      const ms = time(() => old.scrub(big), BEFORE_ROUNDS)
      const msSmall = time(() => old.scrub(small), BEFORE_ROUNDS)
      const sameOutput = old.scrub(big) === registry(SecretRegistry, entry.secrets as boolean).scrub(big)
      entry.before = {ms: round(ms), msSmall: round(msSmall), scaling: round(ms / msSmall), sameOutput}
      entry.speedup = round(ms / entry.ms)
      log(`before, ${entry.case}${entry.secrets ? ' +secrets' : ''}: ${round(ms)} ms (x${round(ms / msSmall)})${sameOutput ? '' : ' OUTPUT DIFFERS'}`)
    }
  }
  const worst = Math.max(...results.map((r) => r.ms))
  const out = {
    benchmark: 'scrub',
    date: new Date().toISOString(),
    machine: {cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg().map((l) => round(l, 2)), node: process.version},
    method: `SecretRegistry.scrub on ${SIZE} and ${SMALL} characters per case, without and with secrets registered (${SECRETS.length}, occurring in the text); median of ${ROUNDS} rounds after a warm-up. floorMs: one regex pass over the same text. before: src/core/redact.ts at ${BEFORE}, ${BEFORE_ROUNDS} round(s). scaling: time(${SIZE}) / time(${SMALL}) (8 is linear). Budget: ${BUDGET_MS} ms per case at ${SIZE} characters.`,
    budgetMs: BUDGET_MS,
    worstMs: worst,
    allWithinBudget: worst < BUDGET_MS,
    cases: results,
  }
  writeFileSync(RESULTS, `${JSON.stringify(out, null, 2)}\n`)
  log(`worst case ${worst} ms (budget ${BUDGET_MS} ms); written to ${RESULTS}`)
  if (worst >= BUDGET_MS) process.exitCode = 1
}

await main()
