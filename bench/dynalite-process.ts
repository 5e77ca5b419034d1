// A DynamoDB-API server in a process of its own, so a bench can count the consumer's CPU apart from the
// server's: prints its endpoint on the first line of stdout and serves until its stdin closes.
import { startDynamoDb } from '../local/aws-servers';

const server = await startDynamoDb();
process.stdout.write(`${server.endpoint}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void server.stop().finally(() => process.exit(0));
});
