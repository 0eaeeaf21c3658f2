// How a long command is stopped: SIGINT (Ctrl-C) and SIGTERM (what Slurm sends at a job's time limit or on
// preemption, and Kubernetes before it kills a pod, each a grace period before SIGKILL) both abort the
// command's signal, so training stops at the next batch with its checkpoint saved; a second one quits at once.
// The exit status is the shell's for the signal received (128 + its number: 130, 143).
const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;

export interface StopSignals {
  /** Aborted by the first SIGINT or SIGTERM. */
  signal: AbortSignal;
  /** 128 + the number of the signal that stopped the command (130 when none did: an abort from elsewhere). */
  exitCode(): number;
  /** Stops listening (the command is over). */
  dispose(): void;
}

/** `what` says what stopping does ("stopping at the next batch and saving a checkpoint"). */
export function listenForStop(what: string): StopSignals {
  const controller = new AbortController();
  let received: keyof typeof SIGNALS = 'SIGINT';
  const handlers = Object.keys(SIGNALS).map((name) => {
    const sig = name as keyof typeof SIGNALS;
    const handler = () => {
      if (controller.signal.aborted) process.exit(128 + SIGNALS[sig]);
      received = sig;
      console.error(`\neos: ${what} (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again to quit at once)`);
      controller.abort();
    };
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  return {
    signal: controller.signal,
    exitCode: () => 128 + SIGNALS[received],
    dispose: () => {
      for (const [sig, handler] of handlers) process.off(sig, handler);
    },
  };
}
