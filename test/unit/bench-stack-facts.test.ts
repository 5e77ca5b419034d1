import { describe, expect, it } from 'vitest';
import { readStackFacts, synthesizeTemplate } from '../../bench/stack-facts';

type Resources = ReturnType<typeof synthesizeTemplate>['Resources'];

/** The logical id of the function the queue's event source invokes. */
function processFunctionId(resources: Resources): string {
  const [, mapping] =
    Object.entries(resources).find(([, r]) => r.Type === 'AWS::Lambda::EventSourceMapping') ?? [];
  return (mapping?.Properties?.FunctionName as { Ref?: string } | undefined)?.Ref ?? '';
}

describe('bench stack facts', () => {
  it("reads the process function's memory from the template, so a change of it in infra reaches the cost model", () => {
    const template = synthesizeTemplate();
    const id = processFunctionId(template.Resources);
    const fn = template.Resources[id];
    if (!fn?.Properties) throw new Error('the template has no process function');
    fn.Properties.MemorySize = 512;
    const facts = readStackFacts(template);
    expect(facts.memoryMb.Process).toBe(512);
    expect(facts.memoryMb.Receive).toBe(readStackFacts().memoryMb.Receive);
  });

  it('finds each function by what invokes it, not by its logical id', () => {
    const template = synthesizeTemplate();
    const text = JSON.stringify(template).replaceAll(processFunctionId(template.Resources), 'ConsumerFn');
    const renamed = JSON.parse(text) as typeof template;
    expect(readStackFacts(renamed).memoryMb).toEqual(readStackFacts(template).memoryMb);
    expect(Object.keys(readStackFacts(renamed).memoryMb).sort()).toEqual(['Process', 'Receive', 'Repair']);
  });
});
