/**
 * A stand-in for CloudFormation's DescribeStacks and ListStackResources (its query protocol over HTTP, XML
 * answers), because CloudFormation has no server among the run's local ones: it answers for one stack, with the
 * outputs it is given (a table on the run's DynamoDB-API server, say) and no resources, and records the action
 * and the region each request was signed for (the credential scope of its SigV4 Authorization header). Tools
 * reach it through the SDK's `AWS_ENDPOINT_URL_CLOUDFORMATION` setting.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the stand-in was asked: the action and the region its signature names. */
export interface Asked {
  action: string;
  region: string | undefined;
}

const NS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';
const xml = (text: string) =>
  text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] ?? c);

/** Starts the stand-in for `stackName` with `outputs`. @returns its endpoint, what it was asked, and `stop`. */
export async function startCloudFormationStandIn(stackName: string, outputs: Record<string, string>) {
  const asked: Asked[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      const action = new URLSearchParams(body).get('Action') ?? '';
      const region = /Credential=[^/]+\/\d{8}\/([^/]+)\/cloudformation\//.exec(
        request.headers.authorization ?? '',
      )?.[1];
      asked.push({ action, region });
      response.writeHead(200, { 'content-type': 'text/xml' });
      if (action === 'DescribeStacks') {
        const members = Object.entries(outputs)
          .map(
            ([key, value]) =>
              `<member><OutputKey>${xml(key)}</OutputKey><OutputValue>${xml(value)}</OutputValue></member>`,
          )
          .join('');
        response.end(
          `<DescribeStacksResponse xmlns="${NS}"><DescribeStacksResult><Stacks><member><StackName>${xml(stackName)}</StackName><StackId>arn:aws:cloudformation:eu-west-3:000000000000:stack/${xml(stackName)}/1</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>`,
        );
        return;
      }
      response.end(
        `<ListStackResourcesResponse xmlns="${NS}"><ListStackResourcesResult><StackResourceSummaries></StackResourceSummaries></ListStackResourcesResult><ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></ListStackResourcesResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
