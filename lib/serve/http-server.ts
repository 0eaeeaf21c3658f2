// A small HTTP service around a Classifier, on Node's http module (loopback by default).
//
//   GET  /health   -> 200 {"status":"ok","classes":10,"inputShape":[1,28,28]}
//   POST /predict  -> 200 {"labels":[...],"probabilities":[[...],...]}
//        body: raw uint8 pixels (Content-Type: application/octet-stream), N whole NCHW images; or
//              JSON (Content-Type: application/json) {"images": [[v, ...], ...]}, each image a flat array of
//              C*H*W numbers in [0, 255].
// Every bad request gets a 4xx with a JSON {"error": reason}; nothing a client sends can crash the process.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Classifier } from './classifier.js';

export interface ServeOptions {
  host?: string;
  port?: number;
  /** Most images one request may carry (default 256); larger bodies get 413. */
  maxImagesPerRequest?: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, `request body exceeds the limit of ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseImages(body: Buffer, contentType: string, imageSize: number): Uint8Array | Float32Array {
  if (contentType.startsWith('application/octet-stream')) {
    if (body.length === 0 || body.length % imageSize !== 0) {
      throw new HttpError(
        400,
        `body must hold whole images of ${imageSize} bytes each, got ${body.length} bytes`,
      );
    }
    return new Uint8Array(body.buffer, body.byteOffset, body.length);
  }
  if (contentType.startsWith('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new HttpError(400, `malformed JSON: ${(err as Error).message}`);
    }
    const images = (parsed as { images?: unknown })?.images;
    if (!Array.isArray(images) || images.length === 0) {
      throw new HttpError(400, 'JSON body must be {"images": [[pixel, ...], ...]} with at least one image');
    }
    const out = new Float32Array(images.length * imageSize);
    images.forEach((image, i) => {
      if (!Array.isArray(image) || image.length !== imageSize) {
        throw new HttpError(400, `images[${i}] must be an array of ${imageSize} numbers`);
      }
      image.forEach((v, j) => {
        if (typeof v !== 'number' || !(v >= 0 && v <= 255)) {
          throw new HttpError(400, `images[${i}][${j}] must be a number in [0, 255]`);
        }
        out[i * imageSize + j] = v;
      });
    });
    return out;
  }
  throw new HttpError(
    415,
    'Content-Type must be application/octet-stream (raw uint8 pixels) or application/json',
  );
}

export interface RunningServer {
  server: Server;
  url: string;
  /** Stops accepting connections, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

export async function serve(classifier: Classifier, options: ServeOptions = {}): Promise<RunningServer> {
  const [c, h, w] = classifier.inputShape;
  const imageSize = c * h * w;
  const maxImages = options.maxImagesPerRequest ?? 256;
  // JSON spends up to 4 characters per pixel ("255,"), plus brackets.
  const limitFor = (type: string) =>
    (type.startsWith('application/json') ? 4 * imageSize + 8 : imageSize) * maxImages + 64;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (err instanceof HttpError) send(res, err.status, { error: err.message });
      else send(res, 500, { error: `internal error: ${err.message}` });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') {
      if (req.method !== 'GET') throw new HttpError(405, 'use GET /health');
      send(res, 200, { status: 'ok', classes: classifier.classes, inputShape: classifier.inputShape });
      return;
    }
    if (path !== '/predict') throw new HttpError(404, `no route ${path}; routes: GET /health, POST /predict`);
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      throw new HttpError(405, 'use POST /predict');
    }
    const type = String(req.headers['content-type'] ?? '');
    if (!type.startsWith('application/octet-stream') && !type.startsWith('application/json')) {
      req.resume();
      throw new HttpError(
        415,
        'Content-Type must be application/octet-stream (raw uint8 pixels) or application/json',
      );
    }
    const body = await readBody(req, limitFor(type));
    const images = parseImages(body, type, imageSize);
    const { labels, probabilities } = await classifier.predict(images);
    const k = classifier.classes;
    send(res, 200, {
      labels: Array.from(labels),
      probabilities: Array.from(labels, (_, i) => Array.from(probabilities.subarray(i * k, (i + 1) * k))),
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://${address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
