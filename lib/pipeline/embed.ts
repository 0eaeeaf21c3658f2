// The embed step, between phase 1 and phase 2: the trained backbone's embeddings of every split, which
// phases 2 and 3 work on, and its own logits on the test set (the "phase 1 only" score).

import type { Dataset } from '../data/types.js';
import type { ResNet } from '../model/resnet.js';
import type { EmbeddedBackbone, RunData, RunEmbeddings } from './types.js';

const batchOf = (d: Dataset) => ({ images: d.images, shape: d.shape });

/** Embeddings of the training, test and validation sets, and the test logits, in one pass over each set. */
export async function embedBackbone(
  model: ResNet,
  data: RunData,
  signal?: AbortSignal,
): Promise<EmbeddedBackbone> {
  const started = performance.now();
  const train = await model.embed(batchOf(data.train), signal);
  const testOut = await model.predict(batchOf(data.test), { logits: true, embeddings: true, signal });
  const validation = data.validation ? await model.embed(batchOf(data.validation), signal) : null;
  const seconds = (performance.now() - started) / 1000;
  return {
    embeddings: { train, test: testOut.embeddings!, validation },
    testLogits: testOut.logits!,
    seconds,
  };
}

/** The embeddings alone, for a backbone already scored (one reloaded from its saved model). */
export async function embedSplits(
  model: ResNet,
  data: RunData,
  signal?: AbortSignal,
): Promise<RunEmbeddings> {
  const train = await model.embed(batchOf(data.train), signal);
  const test = await model.embed(batchOf(data.test), signal);
  const validation = data.validation ? await model.embed(batchOf(data.validation), signal) : null;
  return { train, test, validation };
}
