// The benchmark peers are Debian packages (DESIGN.md section 10): a benchmark calls ensurePeerPackages with
// the ones it runs before it starts, so a fresh machine gets them installed (as root) or one line naming
// the apt-get command (otherwise), never a Python traceback halfway through a run.
import { spawnSync } from 'node:child_process';

/** Every package a benchmark peer needs, by peer. */
export const PEER_PACKAGES = {
  pytorch: ['python3-torch', 'python3-numpy'],
  numpy: ['python3-numpy'],
  faiss: ['python3-faiss', 'python3-numpy'],
  sklearn: ['python3-sklearn', 'python3-numpy'],
  imblearn: ['python3-imblearn', 'python3-sklearn', 'python3-numpy'],
} as const;

function missing(packages: readonly string[]): string[] {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format placeholders
  const probe = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status}\\n', ...packages], {
    encoding: 'utf8',
  });
  if (probe.error) return []; // not a dpkg system: the peer's own import error will tell
  const installed = new Set(
    probe.stdout
      .split('\n')
      .filter((l) => l.endsWith('install ok installed'))
      .map((l) => l.split(' ')[0]),
  );
  return packages.filter((p) => !installed.has(p));
}

/** Installs the peers' missing packages (root) or exits with the command to run. */
export function ensurePeerPackages(peers: (keyof typeof PEER_PACKAGES)[]): void {
  const wanted = [...new Set(peers.flatMap((p) => PEER_PACKAGES[p]))];
  const absent = missing(wanted);
  if (absent.length === 0) return;
  const args = ['install', '-y', '-q', '--no-install-recommends', ...absent];
  if (process.getuid?.() !== 0) {
    console.error(`bench: the peers need ${absent.join(' ')}; run: sudo apt-get ${args.join(' ')}`);
    process.exit(1);
  }
  console.log(`bench: installing the peers' packages: ${absent.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const a of [['update', '-q'], args]) {
    const r = spawnSync('apt-get', a, { stdio: 'inherit', env });
    if (r.status !== 0) {
      console.error(`bench: apt-get ${a.join(' ')} failed (exit ${r.status ?? r.signal})`);
      process.exit(1);
    }
  }
}
