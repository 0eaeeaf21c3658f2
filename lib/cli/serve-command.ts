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
  const running = await serve(classifier, { host: opts.host, port: opts.port });
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
