import {CommandLog, ConnectionLost, DeadlineExceeded, followAbort, formatMs, positiveMs, type ConnectOptions, type Driver} from '../core/probe.js'
import type {Secrets} from '../core/secrets.js'
import type {TargetSpec} from '../core/types.js'
import {describeHttpError} from './connect-errors.js'
import {requestDeadline} from './http.js'

/** One series of an instant vector: its labels (without __name__ unless the query kept it) and value. */
export interface PromSample {
  labels: Record<string, string>
  value: number
}

export interface PrometheusOptions {
  /** 'server': a Prometheus (or compatible) HTTP API; 'scrape': one /metrics endpoint. Default: 'scrape' when the path ends in /metrics. */
  mode?: 'server' | 'scrape'
  bearerToken?: string
  basicAuth?: {username: string; password: string}
  timeoutMs?: number
}

/**
 * A read-only client for a Prometheus server's HTTP API (instant queries only) or for a single /metrics
 * endpoint. Credentials come from the URL (user:password@) or from options (bearerToken, basicAuth); they are
 * registered as secrets, sent only in the Authorization header, and never part of a logged or reported URL.
 */
/** An answer read to its end within the request's deadline: a body that stalls halfway cannot hang a probe. */
interface ReadResponse {
  status: number
  ok: boolean
  text(): Promise<string>
  json(): Promise<unknown>
}

function isTimeout(error: unknown): boolean {
  const name = (error as {name?: string})?.name
  return name === 'TimeoutError' || name === 'AbortError'
}

export class PrometheusSession {
  version = ''
  private scraped?: Promise<PromSample[]>
  /** Aborts every request in flight: abort() on a stalled target, and the connect's signal. */
  private readonly aborter = new AbortController()
  /** Why the target was given up on (a request that outlived its timeout): every later request fails at once. */
  lost?: string

  constructor(
    readonly mode: 'server' | 'scrape',
    /** Without credentials: fetch refuses URLs with user:password anyway. */
    readonly baseUrl: URL,
    private readonly headers: Record<string, string>,
    readonly log: CommandLog,
    private readonly timeoutMs: number,
  ) {}

  static fromTarget(target: TargetSpec, log = new CommandLog(), secrets?: Secrets): PrometheusSession {
    const options = (target.options ?? {}) as PrometheusOptions
    const url = new URL(target.url)
    const headers: Record<string, string> = {accept: 'application/json, text/plain;q=0.9'}
    const user = decodeURIComponent(url.username)
    const password = decodeURIComponent(url.password)
    if (options.bearerToken) {
      secrets?.register(options.bearerToken)
      headers.authorization = `Bearer ${options.bearerToken}`
    } else if (options.basicAuth) {
      secrets?.register(options.basicAuth.password)
      headers.authorization = `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`
    } else if (user || password) {
      secrets?.register(password)
      headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
    }
    url.username = ''
    url.password = ''
    const mode = options.mode ?? (/\/metrics\/?$/.test(url.pathname) ? 'scrape' : 'server')
    if (mode === 'server' && !url.pathname.endsWith('/')) url.pathname += '/'
    return new PrometheusSession(mode, url, headers, log, positiveMs(options.timeoutMs) ?? 10_000)
  }

  /** Follows `signal` (the capture giving up on this target while it connects). */
  linkAbort(signal?: AbortSignal): () => void {
    return followAbort(signal, () => this.abort('the capture gave up on this target'))
  }

  /** Aborts whatever is in flight; later requests fail at once. */
  abort(why = 'dropped'): void {
    this.lost ??= why
    this.aborter.abort()
  }

  /** One GET, headers and body within timeoutMs (fetch's signal covers reading the body too). */
  private async get(url: URL, what: string): Promise<ReadResponse> {
    if (this.lost) throw new ConnectionLost(this.lost)
    let status: number
    let body: string
    const deadline = requestDeadline(this.timeoutMs, this.aborter.signal)
    try {
      const response = await fetch(url, {headers: this.headers, signal: deadline.signal})
      status = response.status
      if (status === 401 || status === 403 || (!response.ok && status !== 400 && status !== 422)) {
        await response.body?.cancel().catch(() => {})
        if (status === 401 || status === 403) {
          throw Object.assign(new Error(`Prometheus at ${this.baseUrl.host} refused the credentials (HTTP ${status}): check the user and password or bearer token`), {http: true})
        }
        throw Object.assign(new Error(`${what}: HTTP ${status} from ${this.baseUrl.host}${this.baseUrl.pathname}`), {http: true})
      }
      body = await response.text()
    } catch (error) {
      if ((error as {http?: boolean}).http) throw error
      if (isTimeout(error) && !this.lost) {
        // Whatever stalled this request stalls the next ones too: give up on the target rather than wait again.
        this.lost = `no answer from Prometheus within ${formatMs(this.timeoutMs)} (${what})`
        throw new DeadlineExceeded(`from Prometheus at ${this.baseUrl.host} (${what})`, this.timeoutMs, 'the request was abandoned')
      }
      if (this.lost) throw new ConnectionLost(this.lost)
      throw new Error(describeHttpError(error, 'Prometheus', this.baseUrl))
    } finally {
      deadline.done()
    }
    return {status, ok: status >= 200 && status < 300, text: async () => body, json: async () => JSON.parse(body)}
  }

  /** One instant query against /api/v1/query. A PromQL error is thrown with Prometheus's own message. */
  async query(promql: string): Promise<PromSample[]> {
    if (this.mode !== 'server') throw new Error('PromQL needs a Prometheus server URL, not a /metrics endpoint')
    const url = new URL('api/v1/query', this.baseUrl)
    url.searchParams.set('query', promql)
    const body = (await (await this.log.run(`query ${promql}`, () => this.get(url, 'query'))).json()) as {
      status: string
      error?: string
      data?: {resultType: string; result: Array<{metric: Record<string, string>; value: [number, string]}>}
    }
    if (body.status !== 'success') throw new Error(`Prometheus rejected the query ${promql}: ${body.error ?? body.status}`)
    if (body.data?.resultType === 'scalar') {
      const value = (body.data.result as unknown as [number, string])[1]
      return [{labels: {}, value: promNumber(value)}]
    }
    if (body.data?.resultType !== 'vector') throw new Error(`expected an instant vector from ${promql}, got ${body.data?.resultType}`)
    // NaN (0/0: no traffic in the window) is kept: the probe reports "no traffic" rather than "no series".
    return body.data.result.map((r) => ({labels: r.metric, value: promNumber(r.value[1])}))
  }

  /** The server's version; also proves the URL is a Prometheus API and the credentials are accepted. */
  async buildInfo(): Promise<string> {
    const response = await this.log.run('GET api/v1/status/buildinfo', () => this.get(new URL('api/v1/status/buildinfo', this.baseUrl), 'build info'))
    const body = (await response.json().catch(() => undefined)) as {data?: {version?: string}} | undefined
    if (!response.ok || !body) {
      throw new Error(`no Prometheus API at ${this.baseUrl.host}${this.baseUrl.pathname} (HTTP ${response.status}): give the server's base URL, or a /metrics URL`)
    }
    return body.data?.version ?? ''
  }

  /** The samples of one /metrics scrape (fetched once per session, however many probes read it). */
  scrape(): Promise<PromSample[]> {
    this.scraped ??= (async () => {
      const text = await (await this.log.run(`GET ${this.baseUrl.pathname}`, () => this.get(this.baseUrl, 'scrape'))).text()
      return parseExposition(text)
    })()
    return this.scraped
  }

  /** The current samples of one metric name, from whichever source this target is. */
  async series(metricName: string): Promise<PromSample[]> {
    if (this.mode === 'server') return this.query(metricName)
    return (await this.scrape()).filter((s) => s.labels.__name__ === metricName)
  }
}

/**
 * Parses the Prometheus text exposition format (version 0.0.4; OpenMetrics text is close enough for gauges):
 * `name{label="value",...} value [timestamp]`. Comments and malformed lines are ignored.
 */
export function parseExposition(text: string): PromSample[] {
  const out: PromSample[] = []
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim()
    if (!line || line.startsWith('#')) continue
    const nameMatch = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)
    if (!nameMatch) continue
    const labels: Record<string, string> = {__name__: nameMatch[1]}
    let rest = line.slice(nameMatch[1].length)
    if (rest.startsWith('{')) {
      const labelRe = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y
      let pos = 1
      for (;;) {
        labelRe.lastIndex = pos
        const m = labelRe.exec(rest)
        if (!m) break
        labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\')
        pos = labelRe.lastIndex
      }
      const close = rest.indexOf('}', pos)
      if (close < 0) continue
      rest = rest.slice(close + 1)
    }
    const value = promNumber(rest.trim().split(/\s+/)[0])
    if (!Number.isNaN(value)) out.push({labels, value})
  }
  return out
}

/** Prometheus writes +Inf/-Inf/NaN, which Number() reads only partly. */
export function promNumber(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity
  if (text === '-Inf') return -Infinity
  return Number(text)
}

export const prometheusDriver: Driver<PrometheusSession> = {
  kind: 'prometheus',
  async connect(target: TargetSpec, log: CommandLog, secrets?: Secrets, connect?: ConnectOptions) {
    const session = PrometheusSession.fromTarget(target, log, secrets)
    const unlink = session.linkAbort(connect?.signal)
    try {
      if (session.mode === 'scrape') {
        const samples = await session.scrape()
        return {conn: session, facts: {mode: 'scrape', series: samples.length}}
      }
      // Build info doubles as the reachability and credentials check, and names the server version.
      session.version = await session.buildInfo()
      return {conn: session, facts: {mode: 'server', version: session.version}}
    } finally {
      unlink()
    }
  },
  // Nothing stays open between requests but fetch's idle keep-alive sockets, which do not hold the process.
  async close() {},
  abort: (session) => session.abort(),
}
