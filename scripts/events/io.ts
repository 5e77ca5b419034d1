// Where a command of the events tool writes and reads: the process's own streams when run as a tool, any
// streams a caller injects when run in process (a test, another tool).

/** The streams a command writes its data (stdout) and its messages (stderr) to, and asks a question on. */
export interface EventsIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Where `dlq purge` reads its confirmation; only a terminal (`isTTY`) is asked. */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** The process's own stdout, stderr and stdin. */
export const processIo = (): EventsIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});

/** Writes `text` as one line. */
export const line = (stream: NodeJS.WritableStream, text: string) => stream.write(`${text}\n`);
