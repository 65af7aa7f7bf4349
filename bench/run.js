#!/usr/bin/env node
// `npm run bench`: runs every benchmark under bench/<name>/ in turn (run.ts through tsx, or run.js), each
// writing its results to bench/results/<name>.json. A benchmark whose prerequisites are missing (a test
// server down, a tool not installed) fails alone: the others still run, and the summary says which failed.
// Run one: node bench/run.js core   (names as arguments select benchmarks)
import {spawnSync} from 'node:child_process'
import {existsSync, readdirSync, statSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const benchDir = dirname(fileURLToPath(import.meta.url))
const root = dirname(benchDir)
const wanted = process.argv.slice(2)

const benchmarks = readdirSync(benchDir)
  .filter((name) => name !== 'results' && statSync(join(benchDir, name)).isDirectory())
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .map((name) => {
    const ts = join(benchDir, name, 'run.ts')
    const js = join(benchDir, name, 'run.js')
    return {name, script: existsSync(ts) ? ts : existsSync(js) ? js : undefined}
  })

if (wanted.length > 0) {
  for (const name of wanted.filter((w) => !benchmarks.some((b) => b.name === w))) console.error(`bench: no benchmark named ${name} (bench/${name}/ does not exist)`)
}

const outcomes = []
for (const {name, script} of benchmarks) {
  if (!script) {
    outcomes.push({name, status: 'skipped', detail: 'no run.ts or run.js in its directory'})
    continue
  }
  console.error(`\n=== bench/${name} (${script.slice(root.length + 1)}) ===`)
  const started = Date.now()
  const args = script.endsWith('.ts') ? ['--import', 'tsx', script] : [script]
  const result = spawnSync(process.execPath, args, {cwd: root, stdio: 'inherit'})
  const seconds = Math.round((Date.now() - started) / 100) / 10
  if (result.error) outcomes.push({name, status: 'failed', detail: `could not start: ${result.error.message}`, seconds})
  else if (result.status !== 0) {
    outcomes.push({name, status: 'failed', detail: `exit ${result.status ?? result.signal}: see its output above (a prerequisite missing? most need \`bash scripts/test-env.sh up\` and \`npm run build\`)`, seconds})
  } else outcomes.push({name, status: 'ok', detail: `results in bench/results/${name}.json`, seconds})
}

console.error('\n=== summary ===')
for (const o of outcomes) console.error(`${o.status.padEnd(7)} bench/${o.name}${o.seconds === undefined ? '' : ` (${o.seconds} s)`}: ${o.detail}`)
// Missing prerequisites are expected on some machines: the run reports them but does not fail as a whole
// unless every benchmark failed.
process.exitCode = outcomes.length > 0 && outcomes.every((o) => o.status !== 'ok') ? 1 : 0
