// A bounded pool of async tasks: at most `concurrency` run at once, so a folder of 100,000 images does not
// open 100,000 files at once (EMFILE) nor hold every file in memory. The tasks themselves (file reads, sharp's
// decoding) run on libuv's thread pool, off the event loop.

/** The error of a load stopped by its AbortSignal (the project's convention: name 'AbortError'). */
export function abortError(): Error {
  const err = new Error('stopped by its AbortSignal before every file was read');
  err.name = 'AbortError';
  return err;
}

/**
 * Runs task(0) ... task(count - 1), at most `concurrency` at a time, and resolves with their results in index
 * order. `onDone(n)` is called after each task with the number finished. The first task that throws, or an
 * abort of `signal`, stops new tasks from starting; the pool waits for those in flight, then rejects with that
 * error (an AbortError for the signal).
 */
export async function runPool<T>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
  onDone?: (done: number) => void,
  signal?: AbortSignal,
): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  let done = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < count) {
      if (signal?.aborted) {
        failure = { error: abortError() };
        return;
      }
      const index = next++;
      try {
        results[index] = await task(index);
      } catch (error) {
        failure ??= { error };
        return;
      }
      done++;
      onDone?.(done);
    }
  };
  const workers = Math.max(1, Math.min(Math.floor(concurrency), count));
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
