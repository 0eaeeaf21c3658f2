// `eos serve`: the HTTP service on an exported ONNX model, until SIGINT/SIGTERM (then a clean shutdown).
import { Classifier } from '../serve/classifier.js';
import { serve } from '../serve/http-server.js';

export interface ServeCommandOptions {
  model: string;
  port: number;
  host: string;
  maxBatch: number;
  maxWaitMs: number;
  threads?: number;
}

export async function serveCommand(opts: ServeCommandOptions): Promise<void> {
  const classifier = await Classifier.load(opts.model, {
    maxBatch: opts.maxBatch,
    maxWaitMs: opts.maxWaitMs,
    intraOpThreads: opts.threads,
  });
  let running: Awaited<ReturnType<typeof serve>>;
  try {
    running = await serve(classifier, { host: opts.host, port: opts.port });
  } catch (err) {
    await classifier.close();
    // listen's own message ("listen EADDRINUSE: address already in use ...") does not say which flag to change.
    throw new Error(`cannot listen on ${opts.host}:${opts.port} (--host, --port): ${(err as Error).message}`);
  }
  console.log(`eos serve: ${opts.model} on ${running.url} (GET /health, POST /predict); Ctrl-C to stop`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await running.close();
  await classifier.close();
  console.log('eos serve: stopped');
}
