/**
 * Polls `condition` until it returns a value other than undefined/false, or
 * fails after `timeoutMs` with the last observed state in the message.
 * Tests wait on conditions, never on fixed sleeps.
 */
export async function waitFor<T> (what: string, condition: () => Promise<T | undefined | false> | T | undefined | false, options: { timeoutMs?: number, intervalMs?: number, describe?: () => Promise<string> | string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000)
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const value = await condition()
      if (value !== undefined && value !== false) return value
    } catch (err) {
      lastError = err
    }
    await new Promise(resolve => setTimeout(resolve, options.intervalMs ?? 200))
  }
  const state = options.describe === undefined ? '' : `\n${await options.describe()}`
  throw new Error(`timed out waiting for ${what}${lastError === undefined ? '' : ` (last error: ${(lastError as Error).message})`}${state}`)
}
