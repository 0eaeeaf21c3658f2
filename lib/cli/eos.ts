#!/usr/bin/env node
// The `eos` command.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { LIMITS, maxThreads } from '../defaults.js';
import { addCompareCommand } from './compare-command.js';
import { addDataCommands } from './data-commands.js';
import { exportCommand } from './export-command.js';
import { addFitHeadCommand } from './fit-head-command.js';
import { collectInfo, formatInfo, packageVersion } from './info.js';
import { int, nonNegative, numberList, port } from './option-parsers.js';
import { addRunCommand } from './run.js';
import { serveCommand } from './serve-command.js';

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

  addRunCommand(program);
  addCompareCommand(program);
  addDataCommands(program);
  addFitHeadCommand(program);

  program
    .command('export')
    .description('convert a checkpoint (safetensors state dict, ours or PyTorch) to an ONNX model')
    .argument('<checkpoint>', 'safetensors file with PyTorch parameter names')
    .requiredOption('-o, --out <file>', 'ONNX file to write')
    .option('--embedding', "also output the 64-d embedding ('embedding') beside 'logits'")
    .option('--input-size <n>', 'input side, when the checkpoint does not record it', int('--input-size'))
    .option('--mean <list>', 'per-channel mean of pixel/255 (e.g. 0.286)', numberList('--mean'))
    .option('--std <list>', 'per-channel std of pixel/255 (e.g. 0.353)', numberList('--std'))
    .action((checkpoint: string, opts) => {
      console.log(exportCommand(checkpoint, opts));
    });

  program
    .command('serve')
    .description('HTTP service on loopback: GET /health, POST /predict (raw uint8 pixels or JSON)')
    .requiredOption('-m, --model <file>', 'ONNX model written by eos export')
    .option('-p, --port <n>', 'port (0 = any free port)', port, 8080)
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option(
      '--max-batch <n>',
      'most images per onnxruntime run (micro-batching)',
      int('--max-batch', 1, LIMITS.batch),
      64,
    )
    .option(
      '--max-wait-ms <ms>',
      'how long a request waits to share a batch',
      nonNegative('--max-wait-ms', 60_000),
      2,
    )
    .option('--threads <n>', 'onnxruntime intra-op threads', int('--threads', 1, maxThreads()))
    .action(async (opts) => {
      await serveCommand(opts);
    });

  return program;
}

// Run when executed as a script (not when imported by tests). argv[1] may be a symlink to this file: npm's
// node_modules/.bin/eos, `npm link`, a global install.
function isMainScript(): boolean {
  try {
    return (
      !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
    );
  } catch {
    return false;
  }
}
if (isMainScript()) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: Error) => {
      console.error(`eos: ${err.message}`);
      process.exitCode = 1;
    });
}
