// Bridges an AbortSignal to the native training loops: they poll a one-element Int32Array between batches.
// A flag in memory (rather than a callback) lets a worker thread check it without touching the JS engine.

export interface StopFlag {
  flag: Int32Array;
  dispose(): void;
}

export function stopFlagFor(signal: AbortSignal | undefined): StopFlag {
  const flag = new Int32Array(1);
  if (!signal) return { flag, dispose: () => {} };
  const onAbort = () => {
    flag[0] = 1;
  };
  if (signal.aborted) onAbort();
  signal.addEventListener('abort', onAbort, { once: true });
  return { flag, dispose: () => signal.removeEventListener('abort', onAbort) };
}
