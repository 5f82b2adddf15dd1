import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { lstat, mkdir, rm, stat } from 'node:fs/promises'
import { createServer, request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { logger } from '@libp2p/logger'
import { APP_NAME_PATTERN } from '../trust/index.ts'
import { ControlError } from './errors.ts'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

const log = logger('mirage:node:control')

/**
 * The local control API: HTTP over a Unix socket in the data dir, so only
 * users who can reach the data dir can talk to the node (no TCP port, no
 * credentials to manage). `mirage node status` and `vendor seed` use it.
 */
export const CONTROL_SOCKET = 'control.sock'
/** A control request carries at most a path; anything bigger is not ours. */
const MAX_CONTROL_BODY_BYTES = 64 * 1024
/** The CLI waits this long for a running node to answer. */
export const CONTROL_TIMEOUT_MS = 15_000

/** Longest path bind(2) takes for a Unix socket: sun_path less its NUL (104 bytes on macOS, 108 on Linux). */
const MAX_SOCKET_PATH_BYTES = process.platform === 'darwin' ? 103 : 107

/**
 * Where the node listens: `<dataDir>/control.sock`, or, when that path is
 * too long for a Unix socket (a deep data dir), a short one named after the
 * data dir in a folder only this user may enter (`<tmp>/mirage-<uid>/`).
 * The node and the CLI both derive it from the data dir alone.
 */
export function controlSocketPath (dataDir: string): string {
  const natural = join(dataDir, CONTROL_SOCKET)
  if (Buffer.byteLength(natural) <= MAX_SOCKET_PATH_BYTES) return natural
  const name = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 32)
  return join(tmpdir(), `mirage-${process.getuid?.() ?? 'user'}`, `${name}.sock`)
}

/** Makes the private folder of a short socket path, and refuses one another user could reach. */
async function preparePrivateSocketDir (dir: string): Promise<void> {
  await mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err })
  const info = await lstat(dir)
  const uid = process.getuid?.()
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid) || (info.mode & 0o077) !== 0) {
    throw new ControlError(`${dir} must be a folder of this user that nobody else may enter (mode 700); it holds the control socket of a node whose data dir path is too long for one`)
  }
}

export interface ControlHandlers {
  status(): Promise<unknown>
  /** The small part of the status a scenario runner polls (`GET /progress`). */
  progress?(): Promise<unknown>
  /** Seeds only: takes a further release directory without a restart. */
  addRelease?(dir: string): Promise<unknown>
  /**
   * Seeds only: the census of an app (`GET /census?app=APP`), served as a
   * JSON array streamed one entry per line, so a large census never sits in
   * memory as one string.
   */
  census?(app: string): AsyncIterable<unknown>
  /** Seeds a signed cluster map file (a seed only). */
  addClusterMap?(file: string): Promise<unknown>
  /** Seeds a signed halt or clear override file (a seed only). */
  addOverride?(file: string): Promise<unknown>
}

export async function startControlServer (dataDir: string, handlers: ControlHandlers): Promise<{ close(): Promise<void> }> {
  const path = controlSocketPath(dataDir)
  if (path !== join(dataDir, CONTROL_SOCKET)) await preparePrivateSocketDir(dirname(path))
  if (await controlAnswers(path)) throw new ControlError(`another Mirage node is already running on ${dataDir}`)
  // A socket file left by a node that crashed: nobody answers on it.
  await rm(path, { force: true })
  const server: Server = createServer((req, res) => {
    const reply = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength
      if (size > MAX_CONTROL_BODY_BYTES) req.destroy()
      else chunks.push(chunk)
    })
    req.on('end', () => {
      void (async () => {
        try {
          const url = new URL(req.url ?? '/', 'http://control.invalid')
          if (req.method === 'GET' && req.url === '/status') {
            reply(200, await handlers.status())
          } else if (req.method === 'GET' && req.url === '/progress' && handlers.progress !== undefined) {
            reply(200, await handlers.progress())
          } else if (req.method === 'POST' && req.url === '/releases' && handlers.addRelease !== undefined) {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { dir?: unknown }
            if (typeof body.dir !== 'string') return reply(400, { error: 'body must be {"dir": "<release dir>"}' })
            reply(200, await handlers.addRelease(body.dir))
          } else if (req.method === 'POST' && req.url === '/cluster-maps' && handlers.addClusterMap !== undefined) {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { file?: unknown }
            if (typeof body.file !== 'string') return reply(400, { error: 'body must be {"file": "<signed cluster map>"}' })
            reply(200, await handlers.addClusterMap(body.file))
          } else if (req.method === 'POST' && req.url === '/overrides' && handlers.addOverride !== undefined) {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { file?: unknown }
            if (typeof body.file !== 'string') return reply(400, { error: 'body must be {"file": "<signed override>"}' })
            reply(200, await handlers.addOverride(body.file))
          } else if (req.method === 'GET' && url.pathname === '/census' && handlers.census !== undefined) {
            const app = url.searchParams.get('app')
            if (app === null || !APP_NAME_PATTERN.test(app)) return reply(400, { error: 'expected /census?app=<app name>' })
            await streamJsonArray(res, handlers.census(app))
          } else {
            reply(404, { error: `no such control endpoint: ${req.method ?? ''} ${req.url ?? ''}` })
          }
        } catch (err) {
          log('control request failed: %e', err)
          // A streamed answer that fails midway can only be cut (the client sees a truncated body).
          if (res.headersSent) res.destroy(err as Error)
          else reply(500, { error: (err as Error).message, name: (err as Error).name })
        }
      })()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => { server.off('error', reject); resolve() })
  })
  return {
    async close () {
      await new Promise<void>(resolve => server.close(() => { resolve() }))
      server.closeAllConnections()
      await rm(path, { force: true })
    }
  }
}

/**
 * Writes `items` as a JSON array, one item per line (`[`, `{…},`, …, `]`),
 * waiting for the client to drain. The first item is read before the
 * headers go out, so a failure to start is still a proper 500.
 */
async function streamJsonArray (res: ServerResponse, items: AsyncIterable<unknown>): Promise<void> {
  const iterator = items[Symbol.asyncIterator]()
  let next = await iterator.next()
  res.writeHead(200, { 'content-type': 'application/json' })
  try {
    res.write('[\n')
    let first = true
    // Bounded by the source (a store scan); a client that goes away ends it.
    while (next.done !== true) {
      if (res.destroyed) return
      if (!res.write(`${first ? '' : ',\n'}${JSON.stringify(next.value)}`)) {
        await Promise.race([once(res, 'drain'), once(res, 'close')])
      }
      first = false
      next = await iterator.next()
    }
    res.end(`${first ? '' : '\n'}]\n`)
  } finally {
    await iterator.return?.()
  }
}

/**
 * Calls a running node's control API for a streamed answer (`GET
 * /census?app=`): resolves with the response once the node accepted the
 * request, for the caller to read; ControlError when none answers or it
 * refuses.
 */
export async function openControlStream (dataDir: string, path: string): Promise<IncomingMessage> {
  const socketPath = controlSocketPath(dataDir)
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'GET', path, timeout: CONTROL_TIMEOUT_MS }, res => {
      if (res.statusCode === 200) {
        resolve(res)
        return
      }
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.byteLength
        if (size <= MAX_CONTROL_BODY_BYTES) chunks.push(chunk)
      })
      res.on('end', () => {
        let error: string | undefined
        try {
          error = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: string }).error
        } catch {}
        reject(new ControlError(`the node on ${dataDir} refused: ${error ?? res.statusCode}`))
      })
    })
    req.on('timeout', () => { req.destroy(new Error('timed out')) })
    req.on('error', err => { reject(new ControlError(`no Mirage node is running on ${dataDir} (${(err as NodeJS.ErrnoException).code ?? err.message})`, { cause: err })) })
    req.end()
  })
}

/** Calls a running node's control API; throws ControlError when none answers. */
export async function callControl (dataDir: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const socketPath = controlSocketPath(dataDir)
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { 'content-type': 'application/json' }, timeout: CONTROL_TIMEOUT_MS }, res => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        let parsed: unknown
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'))
        } catch (err) {
          reject(new ControlError(`the node on ${dataDir} answered with something that is not JSON`, { cause: err }))
          return
        }
        if (res.statusCode !== 200) {
          reject(new ControlError(`the node on ${dataDir} refused: ${(parsed as { error?: string }).error ?? res.statusCode}`))
          return
        }
        resolve(parsed)
      })
    })
    req.on('timeout', () => { req.destroy(new Error('timed out')) })
    req.on('error', err => { reject(new ControlError(`no Mirage node is running on ${dataDir} (${(err as NodeJS.ErrnoException).code ?? err.message})`, { cause: err })) })
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

async function controlAnswers (path: string): Promise<boolean> {
  if (await stat(path).then(() => false, () => true)) return false
  return new Promise(resolve => {
    const req = request({ socketPath: path, method: 'GET', path: '/status', timeout: 2_000 }, res => { res.resume(); resolve(true) })
    req.on('timeout', () => { req.destroy(); resolve(false) })
    req.on('error', () => { resolve(false) })
    req.end()
  })
}
