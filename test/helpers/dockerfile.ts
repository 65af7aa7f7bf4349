/**
 * Reads a Dockerfile into stages and instructions, enough for the deploy tests to check what docs/deploy/Dockerfile
 * copies and runs (no Docker engine here to build it): line continuations, comments and parser directives, the exec
 * (JSON) and shell forms, and COPY's flags.
 */
import {readFileSync} from 'node:fs'
import {posix} from 'node:path'

export interface Instruction {
  keyword: string
  /** The text after the keyword, continuations joined. */
  text: string
  line: number
}

export interface Copy {
  from?: string
  sources: string[]
  /** The destination as written. */
  dest: string
  /** The destination made absolute by the WORKDIR in force at the COPY. */
  absoluteDest: string
  line: number
}

export interface Stage {
  image: string
  name?: string
  instructions: Instruction[]
}

export function parseDockerfile(file: string): Stage[] {
  const lines = readFileSync(file, 'utf8').split('\n')
  const instructions: Instruction[] = []
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i].trim()
    if (first === '' || first.startsWith('#')) continue
    const start = i
    let text = lines[i]
    while (/\\\s*$/.test(text) && i + 1 < lines.length) {
      i += 1
      const next = lines[i].trim()
      // A comment line inside a continued instruction is dropped by Docker, not joined.
      text = text.replace(/\\\s*$/, ' ') + (next.startsWith('#') ? '' : next)
    }
    const match = /^\s*(\w+)\s*(.*)$/s.exec(text)
    if (!match) throw new Error(`${file}:${start + 1}: not an instruction: ${first}`)
    instructions.push({keyword: match[1].toUpperCase(), text: match[2].trim(), line: start + 1})
  }
  const stages: Stage[] = []
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.text.split(/\s+/).filter((w) => !w.startsWith('--'))
      stages.push({image: words[0], name: words[1]?.toUpperCase() === 'AS' ? words[2] : undefined, instructions: []})
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`${file}:${instruction.line}: ${instruction.keyword} before the first FROM`)
    } else {
      stages.at(-1)!.instructions.push(instruction)
    }
  }
  return stages
}

/** The exec form's argument list; undefined for the shell form (whose process does not receive signals). */
export function execForm(instruction: Instruction): string[] | undefined {
  if (!instruction.text.startsWith('[')) return undefined
  const parsed: unknown = JSON.parse(instruction.text)
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string')) throw new Error(`line ${instruction.line}: the exec form must be a JSON array of strings`)
  return parsed
}

export function copies(stage: Stage): Copy[] {
  const out: Copy[] = []
  let dir = '/'
  for (const i of stage.instructions) {
    if (i.keyword === 'WORKDIR') dir = posix.resolve(dir, i.text)
    if (i.keyword !== 'COPY') continue
    const words = execForm(i) ?? i.text.split(/\s+/)
    const flags = words.filter((w) => w.startsWith('--'))
    const paths = words.filter((w) => !w.startsWith('--'))
    if (paths.length < 2) throw new Error(`line ${i.line}: COPY needs a source and a destination`)
    const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length)
    const dest = paths.at(-1)!
    out.push({from, sources: paths.slice(0, -1), dest, absoluteDest: posix.resolve(dir, dest), line: i.line})
  }
  return out
}

export function last(stage: Stage, keyword: string): Instruction | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1)
}

/** WORKDIR in force at the end of the stage ("/" when none). */
export function workdir(stage: Stage): string {
  return stage.instructions.filter((i) => i.keyword === 'WORKDIR').reduce((dir, i) => posix.resolve(dir, i.text), '/')
}
