/** A `chokepoint watch` child process of a test's own, and reading the metrics it serves. */
import {expect} from 'vitest'
import {spawnCli} from './cli.js'

/** A running `chokepoint watch`: its base URL (read from the stderr line it prints), its stderr so far, and stop(). */
export interface Watcher {
  url: string
  stderr(): string
  exited(): boolean
  signal(name: NodeJS.Signals): void
  /** SIGTERM, then the exit code and how long the exit took. */
  stop(): Promise<{code: number | null; ms: number}>
}

export async function startWatch(args: string[]): Promise<Watcher> {
  const child = spawnCli(['watch', '--interval', '1s', '--listen', '127.0.0.1:0', ...args])
  let stderr = ''
  let exitCode: number | null | undefined
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    exitCode = code
    resolve(code)
  }))
  child.stdout.resume()
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`watch printed no listening line within 20 s: ${stderr}`)), 20_000)
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      const match = /listening on (http:\/\/[^ ]+)/.exec(stderr)
      if (match) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
    void exit.then((code) => reject(new Error(`watch exited (${code}) before listening: ${stderr}`)))
  })
  return {
    url,
    stderr: () => stderr,
    exited: () => exitCode !== undefined,
    signal: (name) => child.kill(name),
    async stop() {
      const started = performance.now()
      if (exitCode === undefined) child.kill('SIGTERM')
      const code = await exit
      return {code, ms: performance.now() - started}
    },
  }
}

/** The value of one series of the exposition text (labels as written, in order), or undefined. */
export function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

export async function scrape(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`)
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return response.text()
}

/** Scrapes until `until` holds for the text (every 200 ms, up to timeoutMs); returns the last scrape. */
export async function scrapeUntil(url: string, until: (metrics: string) => boolean, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  let text = await scrape(url)
  while (!until(text) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200))
    text = await scrape(url)
  }
  return text
}
