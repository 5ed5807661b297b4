import { describe, expect, it } from 'vitest';
import type { Admin } from '@tributary/client';
import { GroupsFeed } from './commands/watch.ts';

/** An Admin whose group listing answers only when told to. */
function slowAdmin() {
  const answers: ((v: unknown) => void)[] = [];
  const admin = {
    listGroups: () => new Promise((resolve) => answers.push(resolve)),
    describeGroup: async (groupId: string) => ({ groupId, state: 'Stable', members: [], offsets: [] }),
  } as unknown as Admin;
  return { admin, answer: (ids: string[]) => answers.shift()!({ groups: ids.map((groupId) => ({ groupId })) }) };
}

describe('GroupsFeed (watch)', () => {
  it('a frame waits a bounded time for the groups, then shows the last ones while the read goes on', async () => {
    const { admin, answer } = slowAdmin();
    const feed = new GroupsFeed(admin);
    const started = Date.now();
    expect(await feed.read(50)).toBeUndefined(); // a coordinator holds its answer: nothing yet
    expect(Date.now() - started).toBeLessThan(1000);
    answer(['a']);
    expect((await feed.read(1000))?.map((g) => g.groupId)).toEqual(['a']);
    // The next read hangs: the last groups stand in.
    expect((await feed.read(50))?.map((g) => g.groupId)).toEqual(['a']);
    answer(['a', 'b']);
    expect((await feed.read(1000))?.map((g) => g.groupId)).toEqual(['a', 'b']);
  });
});
