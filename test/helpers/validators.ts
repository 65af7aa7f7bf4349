import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {REPO_ROOT} from './cli.js'

/**
 * Microsoft's SARIF Multitool (devDependency @microsoft/sarif-multitool), called as its platform binary: the
 * package's bin.js runs it through a shell, which would split the rule kinds "Gh;Sarif" at the semicolon.
 */
const MULTITOOL = join(REPO_ROOT, 'node_modules', '@microsoft', `sarif-multitool-${process.platform}`, 'Sarif.Multitool')

export interface SarifProblem {
  level: string
  ruleId: string
  text: string
}

/**
 * `validate FILE -o OUT --rule-kind "Gh;Sarif"`: the SARIF 2.1.0 schema, the SARIF rules and GitHub's ingestion rules.
 * Returns every result of the validator's own output log, with its effective level (the result's, else its rule's).
 */
export function validateSarif(sarifText: string): SarifProblem[] {
  if (!existsSync(MULTITOOL)) throw new Error(`${MULTITOOL} is missing: npm install (devDependency @microsoft/sarif-multitool)`)
  const dir = mkdtempSync(join(tmpdir(), 'cp-sarif-validate-'))
  try {
    const input = join(dir, 'input.sarif')
    const output = join(dir, 'validation.sarif')
    writeFileSync(input, sarifText)
    // Its default skips files over 10 MB without a word in the output log (25,000 results are about 30 MB).
    const r = spawnSync(MULTITOOL, ['validate', input, '-o', output, '--rule-kind', 'Gh;Sarif', '--log', 'ForceOverwrite', '--max-file-size-in-kb', '1000000'],
      {encoding: 'utf8', timeout: 120_000})
    // A file it did not analyse (WRN997, ERR997) must not pass as a file with no problems.
    if (/(ERR|WRN)9\d\d/.test(r.stdout + r.stderr) || !existsSync(output)) throw new Error(`the SARIF Multitool did not validate the file (status ${r.status}): ${r.stdout}${r.stderr}`)
    const log = JSON.parse(readFileSync(output, 'utf8'))
    const problems: SarifProblem[] = []
    for (const run of log.runs ?? []) {
      const rules: Array<{id: string; defaultConfiguration?: {level?: string}}> = run.tool?.driver?.rules ?? []
      for (const res of run.results ?? []) {
        const rule = rules[res.ruleIndex] ?? rules.find((x) => x.id === res.ruleId)
        problems.push({level: res.level ?? rule?.defaultConfiguration?.level ?? 'warning', ruleId: res.ruleId, text: `${res.message?.id ?? ''} ${JSON.stringify(res.message?.arguments ?? res.message?.text ?? '')}`})
      }
    }
    return problems
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

/** xmllint (Debian's libxml2-utils, installed by scripts/test-env.sh up) against an XSD: null when valid, else its complaint. */
export function validateXml(xml: string, xsd: string): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'cp-xml-validate-'))
  try {
    const file = join(dir, 'doc.xml')
    writeFileSync(file, xml)
    const r = spawnSync('xmllint', ['--noout', '--schema', xsd, file], {encoding: 'utf8', timeout: 60_000})
    if (r.error) throw new Error(`xmllint could not run (${r.error.message}): sudo bash scripts/test-env.sh up installs libxml2-utils`)
    return r.status === 0 ? null : r.stderr.trim()
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

export const JUNIT_XSD = join(REPO_ROOT, 'schemas', 'junit.xsd')
