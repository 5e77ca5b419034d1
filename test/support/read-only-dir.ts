// Loaded with `--import` into a process a test starts: every write under READ_ONLY_DIR fails with EROFS, as on a
// read-only mount. A stand-in by necessity: mounting a read-only file system needs privileges tests do not have.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { resolve, sep } from 'node:path';

const root = process.env.READ_ONLY_DIR ? resolve(process.env.READ_ONLY_DIR) : undefined;

const under = (path: unknown) =>
  root !== undefined &&
  (typeof path === 'string' || path instanceof URL) &&
  (resolve(String(path)) === root || resolve(String(path)).startsWith(root + sep));

const readOnly = (syscall: string, path: unknown) =>
  Object.assign(new Error(`EROFS: read-only file system, ${syscall} '${String(path)}'`), {
    code: 'EROFS',
    errno: -30,
    syscall,
    path: String(path),
  });

type Method = (...args: unknown[]) => unknown;
const promises = fs.promises as unknown as Record<string, Method>;
const sync = fs as unknown as Record<string, Method>;

// Making a directory that exists answers as on any file system; any other change is refused.
const refuses = (name: string, path: unknown) =>
  under(path) && !(name.startsWith('mkdir') && fs.existsSync(String(path)));

for (const name of [
  'writeFile',
  'appendFile',
  'mkdir',
  'rm',
  'rename',
  'link',
  'chmod',
  'unlink',
  'truncate',
  'symlink',
  'copyFile',
]) {
  const original = promises[name] as Method;
  promises[name] = (path: unknown, ...rest: unknown[]) =>
    refuses(name, path) || (name === 'link' && under(rest[0])) || (name === 'rename' && under(rest[0]))
      ? Promise.reject(readOnly(name, path))
      : original(path, ...rest);
}
const openForWriting = (flags: unknown) => typeof flags === 'string' && /[wa+]/.test(flags);
const open = promises.open as Method;
promises.open = (path: unknown, flags?: unknown, ...rest: unknown[]) =>
  under(path) && openForWriting(flags) ? Promise.reject(readOnly('open', path)) : open(path, flags, ...rest);
for (const name of ['writeFileSync', 'appendFileSync', 'mkdirSync', 'rmSync', 'renameSync', 'unlinkSync']) {
  const original = sync[name] as Method;
  sync[name] = (path: unknown, ...rest: unknown[]) => {
    if (refuses(name, path)) throw readOnly(name.replace(/Sync$/, ''), path);
    return original(path, ...rest);
  };
}
const openSync = sync.openSync as Method;
sync.openSync = (path: unknown, flags?: unknown, ...rest: unknown[]) => {
  if (under(path) && openForWriting(flags)) throw readOnly('open', path);
  return openSync(path, flags, ...rest);
};
syncBuiltinESMExports();
