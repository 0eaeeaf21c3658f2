#!/usr/bin/env node
// The `eos` command.
import { Command, InvalidArgumentError } from 'commander';
import { collectInfo, formatInfo, packageVersion } from './info.js';
import { runPipeline } from './run.js';

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer.`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command('eos')
    .description('Expansive Over-Sampling for class-imbalanced image classification')
    .version(packageVersion().version)
    .showHelpAfterError();

  program
    .command('info')
    .description(
      'print versions, backend, CPU ISA, threads, CUDA and whether the default data set is installed',
    )
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }) => {
      const report = collectInfo();
      console.log(opts.json ? JSON.stringify(report, null, 2) : formatInfo(report));
    });

  program
    .command('run')
    .description('the three-phase pipeline on the default data set (Fashion-MNIST, exp ratio 100)')
    .option('--threads <n>', 'CPU threads', positiveInt('--threads'))
    .action(async (opts: { threads?: number }) => {
      process.exitCode = await runPipeline(opts);
    });

  return program;
}

// Run when executed as a script (not when imported by tests).
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: Error) => {
      console.error(`eos: ${err.message}`);
      process.exitCode = 1;
    });
}
