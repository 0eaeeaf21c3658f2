// A small HTTP service around a Classifier, on Node's http module (loopback by default).
//
//   GET  /health   -> 200 {"status":"ok","classes":10,"inputShape":[1,28,28]} (+ "classNames" when recorded)
//   POST /predict  -> 200 {"labels":[...],"probabilities":[[...],...]}
//        body: raw uint8 pixels (Content-Type: application/octet-stream), N whole NCHW images; or
//              JSON (Content-Type: application/json) {"images": [[v, ...], ...]}, each image a flat array of
//              C*H*W numbers in [0, 255].
//   HEAD /health  -> the headers of GET /health.
// Every bad request gets a 4xx with a JSON {"error": reason}; nothing a client sends can crash the process, and
// an oversized body (declared or chunked) gets its 413 while the client is still sending.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Classifier } from './classifier.js';

export interface ServeOptions {
  host?: string;
  port?: number;
  /** Most images one request may carry (default 256); larger bodies get 413. */
  maxImagesPerRequest?: number;
  /**
   * After refusing a request whose body is still arriving (413, 415, ...), how long to keep reading and
   * discarding the rest so that the client receives the answer (default 5000 ms); then the connection is cut.
   */
  lingerMs?: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

type BodyKind = 'raw' | 'json';

const UNSUPPORTED_TYPE =
  'Content-Type must be application/octet-stream (raw uint8 pixels) or application/json';

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  // For HEAD, Node sends these headers (Content-Length included, as GET would) and drops the body.
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * What a Content-Type header names. Media types are case-insensitive (RFC 9110 8.3.1) and may carry
 * parameters: those are ignored, except a JSON charset other than UTF-8, which we could not decode.
 */
function bodyKind(header: string | undefined): BodyKind {
  const [type, ...params] = String(header ?? '').split(';');
  const media = type.trim().toLowerCase();
  if (media === 'application/octet-stream') return 'raw';
  if (media === 'application/json') {
    for (const param of params) {
      const [key, value = ''] = param.split('=');
      const charset = value.trim().replace(/^"(.*)"$/, '$1');
      if (key.trim().toLowerCase() === 'charset' && !/^utf-?8$/i.test(charset)) {
        throw new HttpError(415, `JSON bodies must be UTF-8, got charset=${charset}`);
      }
    }
    return 'json';
  }
  throw new HttpError(415, `${UNSUPPORTED_TYPE}, got ${media === '' ? 'none' : JSON.stringify(media)}`);
}

/**
 * The whole body, or a 413 as soon as more than `limit` bytes have arrived: bytes are counted as they come,
 * so a chunked body (no Content-Length) is refused as early as a declared one, and nothing past the limit is
 * kept in memory. The rest of a refused body is left to discardRest.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        chunks.length = 0;
        reject(new HttpError(413, `request body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    // A client that goes away mid-body: settle, so that nothing waits for an 'end' that never comes.
    const onClose = () => {
      stop();
      reject(new HttpError(400, 'the connection closed before the request body was complete'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.once('error', (err) => {
      stop();
      reject(err);
    });
  });
}

/**
 * Once the answer to a request we refused has been sent, keeps reading and discarding the body the client is
 * still sending, for at most `lingerMs`, then cuts the connection. Closing a socket with unread input makes
 * the kernel reset it, and a client still busy sending would then see a reset instead of our 413; reading
 * forever would let one client hold the server. A body that does end leaves a reusable keep-alive connection.
 */
function discardRest(req: IncomingMessage, res: ServerResponse, lingerMs: number): void {
  if (req.complete) return;
  req.on('error', () => {}); // a client that gives up now is not an error of ours
  req.resume();
  res.once('finish', () => {
    if (req.complete) return;
    const timer = setTimeout(() => req.socket.destroy(), lingerMs);
    req.once('end', () => clearTimeout(timer));
    req.socket.once('close', () => clearTimeout(timer));
  });
}

function parseImages(body: Buffer, kind: BodyKind, imageSize: number): Uint8Array | Float32Array {
  if (kind === 'raw') {
    if (body.length === 0 || body.length % imageSize !== 0) {
      throw new HttpError(
        400,
        `body must hold whole images of ${imageSize} bytes each, got ${body.length} bytes`,
      );
    }
    return new Uint8Array(body.buffer, body.byteOffset, body.length);
  }
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
  const lingerMs = options.lingerMs ?? 5000;
  if (!Number.isInteger(maxImages) || maxImages < 1)
    throw new RangeError(`maxImagesPerRequest must be an integer >= 1, got ${maxImages}`);
  if (typeof lingerMs !== 'number' || !(lingerMs >= 0 && lingerMs < 2 ** 31))
    throw new RangeError(`lingerMs must be a number of milliseconds >= 0, got ${lingerMs}`);
  // JSON spends up to 4 characters per pixel ("255,"), plus brackets.
  const limitFor = (kind: BodyKind) => (kind === 'json' ? 4 * imageSize + 8 : imageSize) * maxImages + 64;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      discardRest(req, res, lingerMs);
      if (res.headersSent || res.destroyed) return;
      if (err instanceof HttpError) send(res, err.status, { error: err.message }, err.headers);
      else send(res, 500, { error: `internal error: ${err.message}` });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') {
      // HEAD is GET without the body (RFC 9110 9.3.2): load balancers probe with it.
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw new HttpError(405, 'use GET /health', { allow: 'GET, HEAD' });
      }
      const names = classifier.classNames ? { classNames: classifier.classNames } : {};
      send(res, 200, {
        status: 'ok',
        classes: classifier.classes,
        inputShape: classifier.inputShape,
        ...names,
      });
      return;
    }
    if (path !== '/predict') throw new HttpError(404, `no route ${path}; routes: GET /health, POST /predict`);
    if (req.method !== 'POST') throw new HttpError(405, 'use POST /predict', { allow: 'POST' });
    const kind = bodyKind(req.headers['content-type']);
    const body = await readBody(req, limitFor(kind));
    const images = parseImages(body, kind, imageSize);
    const { labels, probabilities } = await classifier.predict(images);
    const k = classifier.classes;
    const names = classifier.classNames;
    send(res, 200, {
      labels: Array.from(labels),
      ...(names ? { names: Array.from(labels, (label) => names[label]) } : {}),
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
