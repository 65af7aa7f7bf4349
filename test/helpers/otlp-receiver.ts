import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

/** One span as the OTLP/JSON protocol carries it, its attributes decoded to plain values. */
export interface ReceivedSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  /** 1 internal, 2 server, 3 client (OTLP's SpanKind numbers). */
  kind: number
  startMs: number
  endMs: number
  attributes: Record<string, unknown>
  status: {code?: number; message?: string}
  resource: Record<string, unknown>
}

interface OtlpValue {
  stringValue?: string
  intValue?: string | number
  doubleValue?: number
  boolValue?: boolean
  arrayValue?: {values?: OtlpValue[]}
}

interface OtlpKeyValue {
  key: string
  value: OtlpValue
}

function decodeValue(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue
  if (v.intValue !== undefined) return Number(v.intValue)
  if (v.doubleValue !== undefined) return v.doubleValue
  if (v.boolValue !== undefined) return v.boolValue
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(decodeValue)
  return undefined
}

function decodeAttributes(list: OtlpKeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, decodeValue(kv.value)]))
}

/**
 * A real OTLP/HTTP receiver for the CLI under test (OTEL_EXPORTER_OTLP_PROTOCOL=http/json): it accepts POST
 * /v1/traces, keeps every raw body (for "this secret appears nowhere") and decodes the spans. Other signals'
 * paths are recorded too, so a test can tell the CLI sent nothing it should not.
 */
export class OtlpReceiver {
  readonly bodies: Array<{path: string; body: string}> = []
  readonly spans: ReceivedSpan[] = []
  private server?: Server

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (chunk: string) => (body += chunk))
      req.on('end', () => {
        this.bodies.push({path: req.url ?? '', body})
        if (req.url === '/v1/traces') {
          try {
            this.decode(JSON.parse(body))
          } catch {
            res.writeHead(400).end()
            return
          }
        }
        res.writeHead(200, {'content-type': 'application/json'}).end('{}')
      })
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  private decode(payload: {resourceSpans?: Array<{resource?: {attributes?: OtlpKeyValue[]}; scopeSpans?: Array<{spans?: any[]}>}>}): void {
    for (const rs of payload.resourceSpans ?? []) {
      const resource = decodeAttributes(rs.resource?.attributes)
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || undefined, name: s.name, kind: s.kind,
            startMs: Number(BigInt(s.startTimeUnixNano) / 1000n) / 1000, endMs: Number(BigInt(s.endTimeUnixNano) / 1000n) / 1000,
            attributes: decodeAttributes(s.attributes), status: s.status ?? {}, resource,
          })
        }
      }
    }
  }

  /** Every raw body received, joined: what a test searches for text that must never be exported. */
  raw(): string {
    return this.bodies.map((b) => b.body).join('\n')
  }

  children(parent: ReceivedSpan): ReceivedSpan[] {
    return this.spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId)
  }

  reset(): void {
    this.bodies.length = 0
    this.spans.length = 0
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}
