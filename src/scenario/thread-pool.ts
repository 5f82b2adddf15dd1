import { stat } from 'node:fs/promises'
import { SWARM_THREAD_POOL_SIZE } from './constants.ts'

/**
 * Gives this process a libuv pool of SWARM_THREAD_POOL_SIZE threads, for
 * hosting a swarm, unless UV_THREADPOOL_SIZE was set by the caller. Must run
 * before the process's first I/O: libuv reads the variable once, when its
 * first piece of work starts the pool. The pool is started here, and the
 * variable taken back at once, so that child processes (the machines of
 * `--processes`, each a `mirage node`) keep Node's default.
 */
export async function sizeThreadPoolForSwarm (): Promise<void> {
  if (process.env.UV_THREADPOOL_SIZE !== undefined) return
  process.env.UV_THREADPOOL_SIZE = String(SWARM_THREAD_POOL_SIZE)
  try {
    await stat(import.meta.dirname)
  } finally {
    delete process.env.UV_THREADPOOL_SIZE
  }
}
