// One error type for every data-file problem, so callers (the CLI) can tell "your file is bad" from a bug,
// and every message has the same shape: "<file>: <what was expected>, <what was found> [at byte offset N]".

export class DataFileError extends Error {
  override name = 'DataFileError';

  /**
   * `file`: the path as the user gave it (plus " (after gunzip)" when offsets count decompressed bytes).
   * `offset`: the byte offset the problem was found at, when one applies.
   */
  constructor(
    readonly file: string,
    detail: string,
    readonly offset?: number,
  ) {
    super(`${file}: ${detail}`);
  }
}
