import * as testingPackage from '@teal/amq-core/testing';
import * as messagesPackage from '@teal/messages';
import { describe, expect, it } from 'vitest';
import * as messagesSourceImport from '../../../packages/messages/src/index';
import { currentRuntime } from '../runtimes.ts';

/** A built module of a package, by its path under packages/ (typed loosely: a fresh clone has no dist/ to type-check against). */
function built(path: string): Promise<Record<string, unknown>> {
  return import(new URL(`../../../packages/${path}`, import.meta.url).href);
}

describe(`the run on ${currentRuntime().name} ${currentRuntime().version}`, () => {
  it('is on the runtime it names (TEAL_RUNTIME)', () => {
    expect(currentRuntime().name).toBe(process.env.TEAL_RUNTIME ?? currentRuntime().name);
  });

  it('tests the built packages: package names and `../src/index` imports both load dist/', async () => {
    const messages = await built('messages/dist/index.js');
    const testing = await built('amq-core/dist/testing/index.js');
    expect(messagesPackage.decodeMessage).toBe(messages.decodeMessage);
    expect(messagesSourceImport.decodeMessage).toBe(messages.decodeMessage);
    expect(testingPackage.describeHandlerContract).toBe(testing.describeHandlerContract);
  });
});
