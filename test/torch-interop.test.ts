// Weights move between this library and PyTorch unchanged: a state dict written from PyTorch loads into the
// native engine and reproduces PyTorch's eval logits and embeddings, and what we save has exactly PyTorch's
// keys, shapes and dtypes (so load_state_dict(strict=True) accepts it).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import { ResNet } from '../lib/model/resnet.js';
import { readSafetensors } from '../lib/model/safetensors.js';
import { readStateDict } from '../lib/model/state-dict.js';
import { packageRoot } from '../lib/native.js';

const fixtures = resolve(packageRoot, 'test/fixtures/torch-interop');

function relativeError(got: Float32Array, want: Float32Array): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  return err / scale;
}

for (const name of ['resnet8-1ch-linear', 'resnet8-3ch-cosine']) {
  for (const backend of ['ref', 'auto'] as const) {
    test(`${name} (${backend}): PyTorch's state dict reproduces PyTorch's logits natively, and saves back with PyTorch's keys`, async (t) => {
      const state = readStateDict(join(fixtures, `${name}.model.safetensors`));
      const normalization = { mean: JSON.parse(state.metadata.mean), std: JSON.parse(state.metadata.std) };
      const model = ResNet.create({ ...state.spec, backend, normalization });
      model.loadStateDict(state.tensors);
      const expected = readSafetensors(join(fixtures, `${name}.expected.safetensors`)).tensors;
      const images = expected.get('images')!;
      const out = await model.predict(
        { images: images.data as Uint8Array, shape: images.shape as [number, number, number, number] },
        { embeddings: true },
      );
      t.true(relativeError(out.logits!, expected.get('logits')!.data as Float32Array) < 1e-4);
      t.true(relativeError(out.embeddings!, expected.get('embedding')!.data as Float32Array) < 1e-4);

      const path = join(mkdtempSync(join(tmpdir(), 'eos-interop-')), 'model.safetensors');
      model.save(path);
      const saved = readSafetensors(path).tensors;
      t.deepEqual([...saved.keys()].sort(), [...state.tensors.keys()].sort());
      for (const [key, tensor] of state.tensors) {
        t.is(saved.get(key)!.dtype, tensor.dtype, key);
        t.deepEqual(saved.get(key)!.shape, tensor.shape, key);
        t.deepEqual(saved.get(key)!.data, tensor.data, key);
      }
      model.dispose();
    });
  }
}
