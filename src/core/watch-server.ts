import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

export interface WatchEndpoints {
  /** The metrics in the Prometheus text exposition format, and its content type. */
  metrics(): Promise<{body: string; contentType: string}>
  /** The latest report as JSON, or undefined before the first audit finished. */
  report(): string | undefined
}

/** `/metrics`, `/report` and `/healthz` on host:port (port 0: one the kernel picks; address() says which). */
export async function startWatchServer(host: string, port: number, endpoints: WatchEndpoints): Promise<{server: Server; address: AddressInfo; close(): Promise<void>}> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, {allow: 'GET, HEAD'}).end()
      return
    }
    if (path === '/metrics') {
      endpoints.metrics().then(({body, contentType}) => response.writeHead(200, {'content-type': contentType}).end(body),
        () => response.writeHead(500).end('metrics unavailable\n'))
    } else if (path === '/report') {
      const report = endpoints.report()
      if (report === undefined) response.writeHead(503, {'content-type': 'text/plain', 'retry-after': '5'}).end('no audit finished yet\n')
      else response.writeHead(200, {'content-type': 'application/json'}).end(report)
    } else if (path === '/healthz') {
      response.writeHead(200, {'content-type': 'text/plain'}).end('ok\n')
    } else {
      response.writeHead(404, {'content-type': 'text/plain'}).end('not found: try /metrics, /report or /healthz\n')
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return {
    server,
    address: server.address() as AddressInfo,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
}
