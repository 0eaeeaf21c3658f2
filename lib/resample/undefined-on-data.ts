/**
 * The method is undefined on this data with these options (e.g. ADASYN when no minority row has an enemy
 * among its neighbours, or a class smaller than k + 1). Unlike a failure of the machine, retrying cannot help:
 * the same rows and options fail the same way, so a caller such as the comparison harness records the outcome
 * instead of retrying it. A RangeError, so callers that catch bad arguments catch it too.
 */
export class UndefinedOnDataError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'UndefinedOnDataError';
  }
}
