import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { capture, isRoot, lastLine } from '../util/exec.ts';
import { UserError } from '../util/errors.ts';
import { info, warn } from '../util/log.ts';
import { debFileName, parseMadison, upstreamVersion, type Pin } from './pin.ts';

export interface SourceRequest {
  pin: Pin;
  cacheDir: string;
  /** Build this Debian version instead of the pinned one (explicit user choice). */
  acceptVersion?: string;
}

export interface Source {
  package: string;
  version: string;
  upstream: string;
  /** Verified kernel source tarball. */
  tarball: string;
  topDir: string;
  pinned: boolean;
  /** What had to be done: 'cached' | 'extracted' | 'downloaded'. */
  action: 'cached' | 'extracted' | 'downloaded';
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Download (if needed), verify and extract the pinned kernel source tarball. */
export async function fetchSource(req: SourceRequest): Promise<Source> {
  const { pin, cacheDir } = req;
  mkdirSync(cacheDir, { recursive: true });
  const pinned = req.acceptVersion === undefined || req.acceptVersion === pin.version;
  const version = pinned ? pin.version : (req.acceptVersion as string);
  const debFile = pinned ? pin.debFile : debFileName(pin.package, version);
  const debPath = join(cacheDir, debFile);
  const tarName = basename(pin.tarball);
  const tarPath = join(cacheDir, pinned ? tarName : tarName.replace(/\.tar\./, `-${version.replace(/[:~]/g, '_')}.tar.`));
  const base = { package: pin.package, version, upstream: upstreamVersion(version), tarball: tarPath, topDir: pin.topDir, pinned };

  if (!pinned) {
    warn(
      `building ${pin.package} ${version} instead of the version pinned in kernel/pin.json (${pin.version}); ` +
        'it is not verified against a known checksum and the patches may not apply',
    );
  }

  if (existsSync(tarPath)) {
    if (!pinned) return { ...base, action: 'cached' };
    const sum = await sha256File(tarPath);
    if (sum === pin.tarballSha256) return { ...base, action: 'cached' };
    warn(`${tarPath}: checksum mismatch, extracting it again`);
    rmSync(tarPath);
  }

  let action: Source['action'] = 'extracted';
  if (!existsSync(debPath)) {
    await download(pin, version, cacheDir, debPath, pinned);
    action = 'downloaded';
  }
  if (pinned) {
    const sum = await sha256File(debPath);
    if (sum !== pin.debSha256) {
      throw new UserError(
        `${debPath}: sha256 ${sum} does not match kernel/pin.json (${pin.debSha256}); delete the file to download it again`,
      );
    }
  }

  info('source', `extracting ${pin.tarball} from ${debFile}`);
  const tmp = `${tarPath}.partial`;
  await extractFromDeb(debPath, pin.tarball, tmp);
  if (pinned) {
    const sum = await sha256File(tmp);
    if (sum !== pin.tarballSha256) {
      rmSync(tmp, { force: true });
      throw new UserError(`${pin.tarball} in ${debFile}: sha256 ${sum} does not match kernel/pin.json (${pin.tarballSha256})`);
    }
  } else {
    warn(`unpinned source tarball sha256: ${await sha256File(tmp)}`);
  }
  renameSync(tmp, tarPath);
  return { ...base, action };
}

async function download(pin: Pin, version: string, cacheDir: string, debPath: string, pinned: boolean): Promise<void> {
  const spec = `${pin.package}=${version}`;
  info('source', `downloading ${spec} (apt-get download)`);
  let r = await capture('apt-get', ['download', spec], { cwd: cacheDir });
  if (r.code !== 0 && isRoot()) {
    // Stale or missing package lists are the usual cause on a fresh machine.
    await capture('apt-get', ['update'], {});
    r = await capture('apt-get', ['download', spec], { cwd: cacheDir });
  }
  if (r.code === 0 && existsSync(debPath)) return;

  const madison = await capture('apt-cache', ['madison', pin.package]);
  const versions = parseMadison(madison.stdout);
  const newest = versions[0];
  if (!versions.includes(version)) {
    if (!newest) {
      throw new UserError(
        `${pin.package} ${version} cannot be downloaded and apt knows no version of ${pin.package} ` +
          `(is ${pin.suite} in your apt sources? run apt-get update)`,
      );
    }
    if (pinned) {
      throw new UserError(
        `${pin.package} ${version} (pinned in kernel/pin.json) is no longer available; the newest available is ${newest}: ` +
          `pass --accept-version ${newest} to build that one instead (unverified, patches may not apply)`,
      );
    }
    throw new UserError(`${pin.package} ${version} is not available; available: ${versions.join(', ')}`);
  }
  throw new UserError(`apt-get download ${spec} failed: ${lastLine(r.stderr) || lastLine(r.stdout) || `exit ${r.code}`}`);
}

/** `dpkg-deb --fsys-tarfile deb | tar -xO ./member > out`. */
async function extractFromDeb(deb: string, member: string, out: string): Promise<void> {
  const dpkg = spawn('dpkg-deb', ['--fsys-tarfile', deb], { stdio: ['ignore', 'pipe', 'pipe'] });
  const tar = spawn('tar', ['-xO', `./${member.replace(/^\.?\//, '')}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let errText = '';
  dpkg.stderr.on('data', (d: Buffer) => (errText += d.toString()));
  tar.stderr.on('data', (d: Buffer) => (errText += d.toString()));
  tar.stdin.on('error', () => undefined); // tar may exit before dpkg-deb is done
  dpkg.stdout.pipe(tar.stdin);
  const exited = (p: ReturnType<typeof spawn>): Promise<number> =>
    new Promise((resolve, reject) => {
      p.on('error', reject);
      p.on('close', (code) => resolve(code ?? 1));
    });
  const [, dpkgCode, tarCode] = await Promise.all([pipeline(tar.stdout, createWriteStream(out)), exited(dpkg), exited(tar)]);
  if (dpkgCode !== 0 || tarCode !== 0) {
    rmSync(out, { force: true });
    throw new UserError(`extracting ${member} from ${basename(deb)} failed: ${lastLine(errText) || `exit ${tarCode}`}`);
  }
}
