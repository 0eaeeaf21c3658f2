// Checks (or with --fix, applies) clang-format on every C++/CUDA source under native/ and test/native/.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fix = process.argv.includes('--fix');

function sources(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(sources(path));
    else if (/\.(cc|h|cu|cuh)$/.test(name)) out.push(path);
  }
  return out;
}

const files = [...sources(join(root, 'native')), ...sources(join(root, 'test/native'))];
const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const r = spawnSync('clang-format', args, { stdio: 'inherit' });
if (r.error) {
  console.error('check-clang-format: clang-format not found (Debian: apt-get install clang-format)');
  process.exit(1);
}
if (r.status !== 0) {
  console.error('check-clang-format: run `npm run format` to fix the formatting of native sources');
  process.exit(1);
}
console.log(`clang-format: ${files.length} native files ${fix ? 'formatted' : 'clean'}`);
