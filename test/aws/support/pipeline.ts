/**
 * Deliveries through the deployed pipeline in moto: signed SORI bodies handed to the receive bundle, which queues
 * them in moto, and the queued messages handed to the process bundle as one SQS batch, each bundle with its own
 * role's key.
 */
import { expect } from 'vitest';
import { hexSignature, soriPayload, webhookEvent } from '../../support/deliveries';
import { uniqueName } from '../../support/local-aws';
import { invokeBundleWith } from './invoke';
import { drain } from './queues';
import type { Deployment } from './stack';

/**
 * SORI events of one new campaign, one per device (`event` each, `campaign.click` by default), created within the
 * last minutes so the tools' default days hold them.
 */
export function soriEvents(devices: string[], event = 'campaign.click') {
  const campaign = uniqueName('cmp');
  const now = Date.now();
  const bodies = devices.map((device, i) => {
    const createdAt = new Date(now - (devices.length - i) * 1_000).toISOString();
    return JSON.stringify({
      ...soriPayload('click'),
      event,
      created_at: createdAt,
      timestamp: createdAt,
      activity_id: `act_${campaign}_${i}`,
      device_id: `${device}_${campaign}`,
      campaign: { id: campaign, name: 'Conformance' },
    });
  });
  return { campaign, bodies };
}

/** Sends each body through the receive bundle; the messages it queued in moto, in the order sent. */
export async function queued(stack: Deployment, bodies: string[]): Promise<string[]> {
  const messages: string[] = [];
  for (const body of bodies) {
    const answer = (await invokeBundleWith(
      stack.functions.receive.file,
      stack.functions.receive.env(),
      webhookEvent({ body, headers: { 'x-sori-signature': hexSignature(body, stack.soriKey) } }),
    )) as { statusCode: number };
    expect(answer.statusCode).toBe(202);
    const taken = await drain(stack.names.queueUrl);
    expect(taken).toHaveLength(1);
    messages.push(taken[0]?.Body ?? '');
  }
  return messages;
}

/** An SQS event source's batch of `messages`, as Lambda hands it to the process function. */
export const sqsBatch = (messages: string[]) => ({
  Records: messages.map((body, i) => ({ messageId: `m${i}`, body, eventSource: 'aws:sqs' })),
});

/** Runs the process bundle on one batch of `messages`; every item must be taken. */
export async function processed(stack: Deployment, messages: string[]): Promise<void> {
  const result = await invokeBundleWith(
    stack.functions.process.file,
    stack.functions.process.env(),
    sqsBatch(messages),
  );
  expect(result).toEqual({ batchItemFailures: [] });
  // The scheduled repair's pass, with its own role: it folds the batch's counts into the counter items.
  const repair = await invokeBundleWith(stack.functions.repair.file, stack.functions.repair.env(), {});
  expect(repair).toMatchObject({ failed: 0 });
}
