// Public API of eos-imbalance.
export { type AugmentOptions, loadNative, type NativeInfo, NativeLoadError, native } from './native.js';
