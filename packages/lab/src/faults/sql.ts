/**
 * A SQL statement as a fault: a migration behind a lock, a long reader holding one open (pm13).
 */
import type { PoolClient } from 'pg'
import type { Action, FaultContext } from './action.ts'

export interface SqlOptions {
  params?: unknown[]
  /**
   * Run inside a transaction kept open until the fault's `until` (then rolled back): a long
   * reader holding its lock (pm13). Without it the statement runs and commits.
   */
  holdOpen?: boolean
  /** Commit instead of rolling back when the hold ends. */
  commit?: boolean
}

type Statement = string | ((ctx: FaultContext) => string)

/**
 * Run a SQL statement on the primary (directly, not through Toxiproxy). It runs in the
 * background: a statement that blocks (an ALTER TABLE behind a lock) does not hold up the
 * timeline; its duration is logged when it finishes. At cleanup a statement still running is
 * cancelled.
 */
export function sql(statement: Statement, options: SqlOptions = {}): Action {
  const text = typeof statement === 'string' ? statement : '(statement chosen per mode)'
  const short = text.replace(/\s+/g, ' ').slice(0, 60)
  return {
    kind: 'sql',
    describe: `${options.holdOpen ? 'hold open: ' : 'sql: '}${short}${text.length > 60 ? '…' : ''}`,
    async run(ctx) {
      const query = typeof statement === 'string' ? statement : statement(ctx)
      const client: PoolClient = await ctx.pg.connect()
      // Held open across faults (a Postgres stop ends it): the pool no longer hears a checked-out
      // client's 'error', which would exit the lab; the next statement fails with it instead.
      const ignore = () => {}
      client.on('error', ignore)
      // A cancel request travels on its own connection and may land after the statement ended:
      // a connection that was sent one is closed, never given back to the pool, or the cancel
      // would hit whatever statement the pool runs on it next.
      let cancelSent = false
      const giveBack = () => {
        client.off('error', ignore)
        client.release(cancelSent)
      }
      const pidRow = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      const backendPid = pidRow.rows[0]?.pid
      const cancel = () => {
        if (backendPid === undefined) return
        cancelSent = true
        ctx.pg.query('SELECT pg_cancel_backend($1)', [backendPid]).catch(() => {})
      }
      ctx.signal.addEventListener('abort', cancel, { once: true })
      let release = true
      try {
        if (options.holdOpen) await client.query('BEGIN')
        const began = Date.now()
        const result = await client.query(query, options.params)
        // The statement is over: from here there is nothing running to cancel (a held transaction
        // is idle until its heal rolls it back).
        ctx.signal.removeEventListener('abort', cancel)
        const note = `${result.rowCount ?? 0} rows in ${((Date.now() - began) / 1000).toFixed(2)} s`
        if (!options.holdOpen) return { note }
        release = false
        return {
          note: `${note}, transaction held open`,
          heal: async () => {
            try {
              await client.query(options.commit ? 'COMMIT' : 'ROLLBACK')
            } finally {
              giveBack()
            }
            return options.commit ? 'committed' : 'rolled back'
          },
        }
      } catch (err) {
        if (options.holdOpen) await client.query('ROLLBACK').catch(() => {})
        throw err
      } finally {
        if (release) {
          ctx.signal.removeEventListener('abort', cancel)
          giveBack()
        }
      }
    },
  }
}
