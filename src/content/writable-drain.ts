/**
 * Backpressure for the streamx writables tar-stream hands out (an entry's
 * sink when packing, the extractor when unpacking). Our code is
 * async-iterator based; this is the one bridge back to stream events.
 */
import type { Writable } from 'streamx'

/**
 * Resolves once `stream` wants more data (after `write` returned false);
 * rejects if the stream is torn down instead, so a writer never waits on a
 * stream that will not drain.
 */
export function drained (stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    // Events already emitted will not come again: a stream torn down before
    // we got here would otherwise leave this promise pending forever.
    if (stream.destroyed || stream.destroying) {
      reject(new Error('stream closed while waiting for it to drain'))
      return
    }
    const cleanup = (): void => {
      stream.off('drain', onDrain)
      stream.off('error', onError)
      stream.off('close', onClose)
    }
    const onDrain = (): void => { cleanup(); resolve() }
    const onError = (err: Error): void => { cleanup(); reject(err) }
    const onClose = (): void => { cleanup(); reject(new Error('stream closed while waiting for it to drain')) }
    stream.on('drain', onDrain)
    stream.on('error', onError)
    stream.on('close', onClose)
  })
}
