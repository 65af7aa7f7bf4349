/**
 * docs/deploy/Dockerfile without a Docker engine (none here): its instructions read and checked, its context's ignore
 * list applied to the repository, and both stages replayed in scratch directories, each COPY copied as Docker would
 * (the container's paths under a directory per stage) and each RUN step run or, where it cannot be, stood in for.
 * The built runtime directory then runs the ENTRYPOINT as the container would.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join, posix, relative} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {REPO_ROOT} from '../../helpers/cli.js'
import {copies, execForm, last, parseDockerfile, workdir, type Stage} from '../../helpers/dockerfile.js'

const DOCKERFILE = join(REPO_ROOT, 'docs', 'deploy', 'Dockerfile')
const IGNORE_FILE = `${DOCKERFILE}.dockerignore`
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {bin: Record<string, string>; files: string[]; engines: {node: string}}
const stages = parseDockerfile(DOCKERFILE)
const runtime = stages.at(-1)!
const stageNamed = (name: string) => stages.find((s) => s.name === name)

/** Docker's .dockerignore matching: the last pattern that matches the path or one of its parent directories decides. */
function ignoredBy(patterns: string[]): (path: string) => boolean {
  const rules = patterns.map((p) => {
    const negated = p.startsWith('!')
    const body = posix.normalize((negated ? p.slice(1) : p).replace(/^\/+/, '')).replace(/\/$/, '')
    const regex = new RegExp(`^${body.split('**').map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('.*')}$`)
    return {negated, regex}
  })
  return (path) => {
    const parts = path.split('/')
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'))
    let ignored = false
    for (const rule of rules) if (candidates.some((c) => rule.regex.test(c))) ignored = !rule.negated
    return ignored
  }
}

function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path).flatMap((name) => filesUnder(join(path, name)))
}

describe('docs/deploy/Dockerfile', () => {
  it('builds in a stage of the official Node image and runs on the same, of a major the engines field allows', () => {
    expect(stages.length).toBe(2)
    const minMajor = Number(/(\d+)/.exec(pkg.engines.node)![1])
    for (const stage of stages) {
      const match = /^(?:docker\.io\/)?(?:library\/)?node:(\d+)(?:-[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$/.exec(stage.image)
      expect(match, `FROM ${stage.image}: not the official node image with a pinned major`).not.toBeNull()
      expect(Number(match![1])).toBeGreaterThanOrEqual(minMajor)
    }
    expect(runtime.image).toBe(stages[0].image)
    expect(stageNamed('build')).toBeDefined()
  })

  it('runs as the node user, by number, never root', () => {
    const user = last(runtime, 'USER')?.text
    expect(user, 'the runtime stage sets no USER: it would run as root').toBeDefined()
    const [uid, gid] = user!.split(':')
    // The node image's `node` user; numeric, so that Kubernetes' runAsNonRoot can verify it.
    expect(uid).toBe('1000')
    expect(gid).toBe('1000')
  })

  it('has the CLI as its ENTRYPOINT in exec form, the package\'s bin, and --help as the default CMD', () => {
    const entrypoint = execForm(last(runtime, 'ENTRYPOINT')!)
    expect(entrypoint, 'ENTRYPOINT in shell form: the CLI would not receive SIGTERM').toBeDefined()
    expect(entrypoint![0]).toBe('node')
    expect(entrypoint![1]).toBe(posix.join(workdir(runtime), pkg.bin.chokepoint))
    expect(execForm(last(runtime, 'CMD')!)).toEqual(['--help'])
  })

  it('copies files that exist, and the runtime stage ships what the npm package does (docs aside)', () => {
    for (const stage of stages) {
      for (const copy of copies(stage).filter((c) => !c.from)) {
        for (const source of copy.sources) expect(existsSync(join(REPO_ROOT, source)), `COPY ${source} (line ${copy.line}): no such file in the repository`).toBe(true)
      }
    }
    const shipped = copies(runtime).flatMap((c) => c.sources.map((s) => posix.relative(workdir(runtime), posix.resolve(c.absoluteDest, c.sources.length > 1 || c.dest.endsWith('/') ? basename(s) : '.'))))
    for (const entry of pkg.files.filter((f) => f !== 'docs')) expect(shipped, `package.json files has ${entry}; the image does not`).toContain(entry)
    const runs = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.text)
    expect(runs(stageNamed('build')!).some((r) => /^npm ci\b/.test(r))).toBe(true)
    expect(runs(stageNamed('build')!)).toContain('npm run build')
    expect(runs(runtime).some((r) => /^npm ci --omit=dev\b/.test(r))).toBe(true)
  })

  it('sends the daemon only what it copies: its ignore list lets every copied file in and keeps the rest out', () => {
    const ignored = ignoredBy(readFileSync(IGNORE_FILE, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')))
    for (const stage of stages) {
      for (const copy of copies(stage).filter((c) => !c.from)) {
        for (const source of copy.sources) {
          for (const file of filesUnder(join(REPO_ROOT, source)).map((f) => relative(REPO_ROOT, f))) {
            if (!file.endsWith('.test.ts')) expect(ignored(file), `${file} (COPY line ${copy.line}) is left out of the build context`).toBe(false)
          }
        }
      }
    }
    for (const kept of ['node_modules/pg/package.json', 'dist/index.js', 'chokepoint.config.yaml', '.git/HEAD', 'test/unit/rules.test.ts', 'bench/results/core.json', 'oclif.manifest.json']) {
      expect(ignored(kept), `${kept} would be sent to the daemon`).toBe(true)
    }
  })

  describe('both stages replayed in scratch directories', () => {
    let scratch: string
    /** Each stage's container filesystem: the container path /x is <root>/x. */
    const roots = new Map<Stage, string>()
    const inStage = (stage: Stage, path: string) => join(roots.get(stage)!, path)
    let appDir: string
    let home: string
    const steps: string[] = []

    const replay = (stage: Stage) => {
      let dir = '/'
      for (const i of stage.instructions) {
        if (i.keyword === 'WORKDIR') {
          dir = posix.resolve(dir, i.text)
          mkdirSync(inStage(stage, dir), {recursive: true})
        } else if (i.keyword === 'COPY') {
          const copy = copies(stage).find((c) => c.line === i.line)!
          const fromStage = copy.from ? stages.find((s) => s.name === copy.from) : undefined
          if (copy.from) expect(fromStage, `COPY --from=${copy.from}: no such stage`).toBeDefined()
          for (const source of copy.sources) {
            const from = fromStage ? inStage(fromStage, source) : join(REPO_ROOT, source)
            expect(existsSync(from), `COPY ${copy.from ? `--from=${copy.from} ` : ''}${source} (line ${copy.line}): nothing there`).toBe(true)
            const intoDir = copy.sources.length > 1 || copy.dest.endsWith('/')
            const to = inStage(stage, intoDir ? posix.join(copy.absoluteDest, basename(source)) : copy.absoluteDest)
            cpSync(from, to, {recursive: true})
          }
        } else if (i.keyword === 'RUN') {
          for (const command of i.text.split('&&').map((c) => c.trim())) {
            const cwd = inStage(stage, dir)
            steps.push(`${stage.name ?? 'runtime'}: ${command}`)
            if (/^npm ci\b/.test(command) && !command.includes('--omit=dev')) {
              // The build stage's full install: the repository's own node_modules, installed from the same lockfile.
              symlinkSync(join(REPO_ROOT, 'node_modules'), join(cwd, 'node_modules'))
            } else if (/^npm ci --omit=dev\b/.test(command)) {
              // The real install of the production dependencies; scripts off and the local cache first (no
              // postinstall of a platform package matters to the CLI; a registry request only for what is missing).
              execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {cwd, stdio: 'pipe', timeout: 240_000})
            } else if (command === 'npm run build') {
              execFileSync('npm', ['run', 'build'], {cwd, stdio: 'pipe', timeout: 240_000})
            } else if (command === 'npm cache clean --force') {
              // Skipped: it would empty this machine's shared npm cache; in the image it only drops a layer's weight.
            } else {
              throw new Error(`RUN ${command} (line ${i.line}): this test does not know how to replay it; teach it`)
            }
          }
        }
      }
    }

    beforeAll(() => {
      scratch = mkdtempSync(join(tmpdir(), 'cp-dockerfile-'))
      for (const [i, stage] of stages.entries()) {
        roots.set(stage, join(scratch, `stage-${i}`))
        mkdirSync(roots.get(stage)!, {recursive: true})
        replay(stage)
      }
      appDir = inStage(runtime, workdir(runtime))
      home = join(scratch, 'home')
      mkdirSync(home)
    }, 480_000)

    afterAll(() => rmSync(scratch, {recursive: true, force: true}))

    /** The container's command line: ENTRYPOINT with the given arguments, in WORKDIR, with the stage's ENV. */
    const container = (args: string[]) => {
      const [command, script] = execForm(last(runtime, 'ENTRYPOINT')!)!
      expect(command).toBe('node')
      const env: Record<string, string> = {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home}
      for (const i of runtime.instructions.filter((x) => x.keyword === 'ENV')) {
        for (const [, k, v] of i.text.matchAll(/(\w+)=(\S+)/g)) env[k] = v
      }
      return spawnSync(process.execPath, [inStage(runtime, script), ...args], {cwd: appDir, env, encoding: 'utf8', timeout: 60_000})
    }

    it('installs production dependencies only, and no TypeScript sources reach the runtime', () => {
      expect(steps.some((s) => s.startsWith('runtime: npm ci --omit=dev'))).toBe(true)
      expect(existsSync(join(appDir, 'node_modules', 'pg'))).toBe(true)
      for (const dev of ['typescript', 'vitest', 'oclif', 'tsx']) expect(existsSync(join(appDir, 'node_modules', dev)), `${dev} (a dev dependency) in the runtime`).toBe(false)
      expect(existsSync(join(appDir, 'src'))).toBe(false)
      expect(existsSync(join(appDir, 'dist', 'rules.json'))).toBe(true)
    })

    it('runs its default CMD, --version and watch --help', () => {
      const help = container(execForm(last(runtime, 'CMD')!)!)
      expect(help.status, help.stderr).toBe(0)
      expect(help.stdout).toMatch(/USAGE/)
      const version = container(['--version'])
      expect(version.status, version.stderr).toBe(0)
      expect(version.stdout).toMatch(/^chokepoint\/\d+\.\d+\.\d+/)
      const watch = container(['watch', '--help'])
      expect(watch.status, watch.stderr).toBe(0)
      expect(watch.stdout).toMatch(/--listen/)
    })

    it('audits with the drivers it ships (exit 3 for targets that cannot be reached, not 2) and writes nothing under HOME', () => {
      const check = container(['check', '--pg', 'postgres://chokepoint@127.0.0.1:1/app', '--redis', 'redis://127.0.0.1:1', '--quiet'])
      expect(check.status, check.stderr).toBe(3)
      expect(check.stdout).toMatch(/audit incomplete/)
      // The pods mount the root filesystem read-only: the CLI must not need to write its home (oclif's cache, config or data).
      expect(readdirSync(home)).toEqual([])
    })
  })
})
