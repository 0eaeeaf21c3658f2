// The loss choices of phases 1 and 3, as the CLI and the harness name them (a module of its own, no imports,
// so that the defaults and the run configuration can name them without the loss code).
export type LossName = 'ce' | 'focal' | 'ldam' | 'asl';
