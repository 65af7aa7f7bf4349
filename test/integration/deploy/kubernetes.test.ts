/**
 * docs/deploy/kubernetes without a cluster (none here, and no kubeconform): every manifest parsed, the fields each
 * kind requires and the references between them checked, and each container's command line run with the built CLI as
 * the pod would run it: the ConfigMap's files and an empty reports volume at their mount paths (rewritten to scratch
 * directories), the Secret's keys in the environment (pointed at ports nothing listens on).
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, posix} from 'node:path'
import {parseAllDocuments} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {loadConfigFile} from '../../../src/core/config.js'
import {REPO_ROOT, runCliAsync, spawnCli} from '../../helpers/cli.js'
import {registry} from '../../helpers/context.js'
import {last, parseDockerfile} from '../../helpers/dockerfile.js'
import {stopProcess} from '../../helpers/process.js'

const DIR = join(REPO_ROOT, 'docs', 'deploy', 'kubernetes')
type Doc = Record<string, any>
const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort()
const docs: Array<{file: string; doc: Doc}> = files.flatMap((file) => {
  const parsed = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'), {uniqueKeys: true})
  if (!Array.isArray(parsed)) return []
  return parsed.map((d) => {
    const problem = d.errors[0] ?? d.warnings[0]
    if (problem) throw new Error(`${file}: ${problem.message}`)
    return {file, doc: d.toJS() as Doc}
  })
})
const one = (kind: string, name?: string): Doc => {
  const found = docs.filter((d) => d.doc.kind === kind && (name === undefined || d.doc.metadata?.name === name))
  expect(found.length, `${kind}${name ? ` ${name}` : ''}: expected exactly one`).toBe(1)
  return found[0].doc
}

/** The apiVersion of each kind the examples use, as the current Kubernetes API and the Prometheus Operator serve them. */
const API_VERSIONS: Record<string, string> = {
  ConfigMap: 'v1', Secret: 'v1', Service: 'v1', PersistentVolumeClaim: 'v1',
  Deployment: 'apps/v1', CronJob: 'batch/v1', ServiceMonitor: 'monitoring.coreos.com/v1', Kustomization: 'kustomize.config.k8s.io/v1beta1',
}
const REQUIRED: Record<string, string[]> = {
  ConfigMap: ['data'], Secret: ['stringData'], Service: ['spec.selector', 'spec.ports'], PersistentVolumeClaim: ['spec.accessModes', 'spec.resources.requests.storage'],
  Deployment: ['spec.selector.matchLabels', 'spec.template.metadata.labels', 'spec.template.spec.containers'],
  CronJob: ['spec.schedule', 'spec.jobTemplate.spec.template.spec.containers', 'spec.jobTemplate.spec.template.spec.restartPolicy'],
  ServiceMonitor: ['spec.selector.matchLabels', 'spec.endpoints'], Kustomization: ['resources'],
}
const at = (doc: Doc, path: string): any => path.split('.').reduce<any>((v, k) => v?.[k], doc)
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels?.[k] === v)
const podSpecOf = (doc: Doc): Doc => (doc.kind === 'CronJob' ? doc.spec.jobTemplate.spec.template.spec : doc.spec.template.spec)
const workloads = () => [one('Deployment'), one('CronJob')]
const imageUser = last(parseDockerfile(join(REPO_ROOT, 'docs', 'deploy', 'Dockerfile')).at(-1)!, 'USER')!.text

describe('docs/deploy/kubernetes', () => {
  it('parses, every object of a known kind with its apiVersion, name and required fields', () => {
    expect(docs.length).toBeGreaterThanOrEqual(8)
    for (const {file, doc} of docs) {
      expect(API_VERSIONS[doc.kind], `${file}: kind ${doc.kind} is not one this test knows`).toBeDefined()
      expect(doc.apiVersion, `${file}: ${doc.kind}`).toBe(API_VERSIONS[doc.kind])
      if (doc.kind !== 'Kustomization') expect(doc.metadata?.name, `${file}: ${doc.kind} without metadata.name`).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
      for (const path of REQUIRED[doc.kind]) expect(at(doc, path), `${file}: ${doc.kind} ${doc.metadata?.name ?? ''} lacks ${path}`).toBeDefined()
    }
    expect([...one('Kustomization').resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml'))
  })

  it('scrapes watch on the port it listens on: annotations, Service, ServiceMonitor and probes agree', () => {
    const deployment = one('Deployment')
    const pod = deployment.spec.template
    expect(matches(deployment.spec.selector.matchLabels, pod.metadata.labels)).toBe(true)
    const [container] = pod.spec.containers
    const listen = container.args[container.args.indexOf('--listen') + 1] as string
    const port = Number(listen.split(':').at(-1))
    expect(listen).toMatch(/^0\.0\.0\.0:/)
    const named = container.ports.find((p: Doc) => p.containerPort === port)
    expect(named, `no containerPort ${port} (--listen ${listen})`).toBeDefined()
    expect(pod.metadata.annotations).toEqual({'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': '/metrics'})
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe.httpGet.path).toBe('/healthz')
      expect([named.name, port]).toContain(probe.httpGet.port)
    }
    const service = one('Service')
    expect(matches(service.spec.selector, pod.metadata.labels)).toBe(true)
    const servicePort = service.spec.ports.find((p: Doc) => [named.name, port].includes(p.targetPort))
    expect(servicePort, 'the Service forwards no port to the metrics port').toBeDefined()
    const monitor = one('ServiceMonitor')
    expect(matches(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true)
    expect(monitor.spec.endpoints[0]).toMatchObject({port: servicePort.name, path: '/metrics'})
  })

  it('runs locked down: the image\'s non-root user, read-only root, no privilege escalation, no capabilities, requests and limits', () => {
    const [uid, gid] = imageUser.split(':').map(Number)
    for (const workload of workloads()) {
      const spec = podSpecOf(workload)
      expect(spec.securityContext).toMatchObject({runAsNonRoot: true, runAsUser: uid, runAsGroup: gid})
      expect(spec.automountServiceAccountToken).toBe(false)
      for (const c of spec.containers) {
        expect(c.securityContext, `${workload.kind} ${c.name}`).toMatchObject({allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: {drop: ['ALL']}})
        for (const kind of ['requests', 'limits']) expect(Object.keys(c.resources[kind]).sort(), `${workload.kind} ${c.name} resources.${kind}`).toEqual(['cpu', 'memory'])
        // With a read-only root filesystem, /tmp is the one place Node or a library may write.
        expect(c.volumeMounts.map((m: Doc) => m.mountPath)).toContain('/tmp')
      }
    }
  })

  it('takes the config from the ConfigMap and the target URLs from the Secret, every reference resolving', () => {
    const configMap = one('ConfigMap')
    const secret = one('Secret')
    for (const workload of workloads()) {
      const spec = podSpecOf(workload)
      for (const c of spec.containers) {
        const configPath = c.args[c.args.indexOf('--config') + 1] as string
        const mount = c.volumeMounts.find((m: Doc) => configPath.startsWith(`${m.mountPath}/`))
        const volume = spec.volumes.find((v: Doc) => v.name === mount?.name)
        expect(volume?.configMap?.name, `${workload.kind}: --config ${configPath} is not on a ConfigMap volume`).toBe(configMap.metadata.name)
        expect(configMap.data[posix.relative(mount.mountPath, configPath)]).toBeDefined()
        expect(mount.readOnly).toBe(true)
        const fromSecret = c.env.filter((e: Doc) => e.valueFrom?.secretKeyRef)
        expect(fromSecret.map((e: Doc) => e.name).sort()).toEqual(['DATABASE_URL', 'REDIS_URL'])
        for (const e of fromSecret) {
          expect(e.valueFrom.secretKeyRef.name).toBe(secret.metadata.name)
          expect(secret.stringData[e.valueFrom.secretKeyRef.key]).toBeDefined()
        }
        // A URL in the args would put a password in the pod spec, readable by anyone who can get pods.
        expect(c.args.join(' ')).not.toMatch(/:\/\//)
      }
    }
  })

  it('runs check hourly at most once at a time, its reports on the PersistentVolumeClaim', () => {
    const cron = one('CronJob')
    expect(cron.spec.concurrencyPolicy).toBe('Forbid')
    expect(cron.spec.schedule.split(/\s+/)).toHaveLength(5)
    expect(cron.spec.jobTemplate.spec.backoffLimit).toBe(0)
    const spec = podSpecOf(cron)
    expect(spec.restartPolicy).toBe('Never')
    const claim = one('PersistentVolumeClaim')
    const volume = spec.volumes.find((v: Doc) => v.persistentVolumeClaim)
    expect(volume.persistentVolumeClaim.claimName).toBe(claim.metadata.name)
    const mount = spec.containers[0].volumeMounts.find((m: Doc) => m.name === volume.name)
    const outputs = (spec.containers[0].args as string[]).filter((a) => a.includes('='))
    expect(outputs.length).toBeGreaterThan(0)
    for (const output of outputs) expect(output.split('=')[1].startsWith(`${mount.mountPath}/`), `${output} is not on the reports volume`).toBe(true)
    // The volume is written by the image's user.
    expect(spec.securityContext.fsGroup).toBe(Number(imageUser.split(':')[1]))
  })

  it('has a config file that chokepoint\'s config loader accepts', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'cp-k8s-config-'))
    try {
      for (const [key, text] of Object.entries(one('ConfigMap').data as Record<string, string>)) {
        writeFileSync(join(scratch, key), text)
        const {config} = loadConfigFile(registry, join(scratch, key))
        expect(config.targets, 'targets belong in the Secret (their URLs hold passwords)').toBeUndefined()
        expect(Object.keys(config).length).toBeGreaterThan(0)
      }
    } finally {
      rmSync(scratch, {recursive: true, force: true})
    }
  })

  it.skipIf(spawnSync('kubectl', ['version', '--client'], {stdio: 'ignore'}).status !== 0)('renders with kubectl kustomize', () => {
    const rendered = execFileSync('kubectl', ['kustomize', DIR], {encoding: 'utf8', timeout: 30_000})
    const objects = parseAllDocuments(rendered)
    expect(Array.isArray(objects) ? objects.length : 0).toBe(docs.length - 1)
  })

  describe("each container's command line, run by the built CLI as the pod would run it", () => {
    let scratch: string
    /** The pod's volumes at scratch paths: the ConfigMap's keys as files, the claim and emptyDirs empty. */
    let mounts: Array<{mountPath: string; dir: string}>
    let home: string
    const env = {DATABASE_URL: 'postgres://chokepoint:not-the-password@127.0.0.1:1/app', REDIS_URL: 'redis://127.0.0.1:1/0'}

    const mounted = (workload: Doc) => {
      const spec = podSpecOf(workload)
      const container = spec.containers[0]
      mounts = container.volumeMounts.map((m: Doc) => {
        const dir = join(scratch, workload.kind, m.name)
        mkdirSync(dir, {recursive: true})
        const volume = spec.volumes.find((v: Doc) => v.name === m.name)
        if (volume.configMap) for (const [key, text] of Object.entries(one('ConfigMap', volume.configMap.name).data as Record<string, string>)) writeFileSync(join(dir, key), text)
        return {mountPath: m.mountPath, dir}
      })
      // A path (or the FILE of FORMAT=FILE) on a mount moves to its directory, once: the scratch directories are under /tmp, itself a mount.
      const args = (container.args as string[]).map((a) => {
        const [prefix, path] = a.includes('=') ? [a.slice(0, a.indexOf('=') + 1), a.slice(a.indexOf('=') + 1)] : ['', a]
        const m = mounts.filter((x) => path.startsWith(`${x.mountPath}/`)).sort((x, y) => y.mountPath.length - x.mountPath.length)[0]
        return m ? `${prefix}${m.dir}/${path.slice(m.mountPath.length + 1)}` : a
      })
      const names = container.env.map((e: Doc) => e.name) as string[]
      return {args, env: {...Object.fromEntries(names.map((n) => [n, env[n as keyof typeof env]])), HOME: home, TMPDIR: mounts.find((m) => m.mountPath === '/tmp')!.dir}}
    }

    beforeAll(() => {
      scratch = mkdtempSync(join(tmpdir(), 'cp-k8s-'))
      home = join(scratch, 'home')
      mkdirSync(home)
    })
    afterAll(() => rmSync(scratch, {recursive: true, force: true}))

    it('watch starts, serves /healthz and /metrics with the Secret\'s targets down, and stops with exit 0 on SIGTERM', async () => {
      const run = mounted(one('Deployment'))
      // The one change: port 0 on loopback instead of 0.0.0.0:9187, which another process here may hold.
      const listenAt = run.args.indexOf('--listen') + 1
      run.args[listenAt] = '127.0.0.1:0'
      const child = spawnCli(run.args, {env: run.env})
      let stderr = ''
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
      try {
        const port = await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no "listening on" line in 30 s: ${stderr}`)), 30_000)
          child.stderr.on('data', () => {
            const found = /listening on http:\/\/[^:]+:(\d+)/.exec(stderr)
            if (found) {
              clearTimeout(timer)
              resolve(Number(found[1]))
            }
          })
          void exited.then((code) => reject(new Error(`watch exited ${code} before listening (2 is a usage or config error): ${stderr}`)))
        })
        const health = await fetch(`http://127.0.0.1:${port}/healthz`)
        expect(health.status).toBe(200)
        let metrics = ''
        for (let i = 0; i < 100 && !/chokepoint_up\{target="redis[^}]*\} 0/.test(metrics); i++) {
          metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
          await new Promise((r) => setTimeout(r, 200))
        }
        expect(metrics).toMatch(/chokepoint_up\{target="postgres[^}]*\} 0/)
        expect(metrics).toMatch(/chokepoint_up\{target="redis[^}]*\} 0/)
        expect(stderr).not.toContain('not-the-password')
      } finally {
        await stopProcess(child.pid!)
      }
      expect(await exited).toBe(0)
      expect(readdirSync(home)).toEqual([])
    })

    it('check runs to exit 3 (targets unreachable; 2 would be a usage or config error) and writes every report to the volume', async () => {
      const run = mounted(one('CronJob'))
      const result = await runCliAsync(run.args, {env: run.env, timeoutMs: 90_000})
      expect(result.status, result.stderr).toBe(3)
      expect(result.stdout).toMatch(/audit incomplete/)
      const reports = mounts.find((m) => m.mountPath === '/reports')!.dir
      const outputs = run.args.filter((a) => a.includes('=')).map((a) => a.split('=')[1])
      expect(readdirSync(reports).sort()).toEqual(outputs.map((o) => posix.basename(o)).sort())
      const report = JSON.parse(readFileSync(outputs.find((o) => o.endsWith('.json'))!, 'utf8'))
      expect(report.targets.map((t: Doc) => t.kind).sort()).toEqual(['postgres', 'redis'])
      expect(readFileSync(outputs.find((o) => o.endsWith('.json'))!, 'utf8')).not.toContain('not-the-password')
      expect(readdirSync(home)).toEqual([])
    })
  })
})
