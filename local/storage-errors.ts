/** What a file system refusal means for someone running the stack, by its error code. */
const MEANINGS: Record<string, string> = {
  ENOSPC: 'no space left on the disk',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EIO: 'an I/O error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
};

/** LevelDB reports a file system error in words (the C library's), not by its code. */
const LEVELDB_WORDS: [RegExp, string][] = [
  [/no space left on device/i, 'ENOSPC'],
  [/disk quota exceeded/i, 'EDQUOT'],
  [/read-only file system/i, 'EROFS'],
  [/permission denied/i, 'EACCES'],
  [/operation not permitted/i, 'EPERM'],
  [/input\/output error/i, 'EIO'],
  [/too many open files/i, 'EMFILE'],
];

const firstLine = (error: unknown) => String((error as Error).message ?? error).split('\n')[0] ?? '';

/**
 * A short, single-line account of a storage error (`no space left on the disk (ENOSPC)`), from Node's file
 * system or from LevelDB (the table's store), or `undefined` when `error` is neither: a bug, not the disk, which
 * its caller should not present as one.
 */
export function describeStorageError(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  if (/^E[A-Z]+$/.test(code))
    return `${MEANINGS[code] ?? firstLine(error).replace(/^E[A-Z]+: /, '')} (${code})`;
  if (!code.startsWith('LEVEL_')) return undefined;
  const known = LEVELDB_WORDS.find(([words]) => words.test(firstLine(error)))?.[1];
  return known ? `${MEANINGS[known]} (${known})` : firstLine(error);
}
