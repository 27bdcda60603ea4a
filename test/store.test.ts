import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { queryStep } from '../src/core/sql.js';
import { openStore, releaseCachedBlocks } from '../src/core/store.js';
import { ensureWorkspace } from '../src/core/workspace.js';
import { testDir } from './helpers.js';

describe('store', () => {
  it('after dropping its cached blocks (bidui run, between ingest and match), DuckDB has the memory limit configured, not the rounded one it shows', async () => {
    const t = testDir('bidui-store-');
    try {
      for (const limit of ['1500MB', '3GB', '6GB']) {
        const store = await openStore(ensureWorkspace(path.join(t.dir, `ws-${limit}`)), { memoryLimit: limit });
        try {
          const shown = async () => (await queryStep<{ v: string }>(store.conn, 'limit', "SELECT current_setting('memory_limit') AS v"))[0]!.v;
          const configured = await shown();
          await releaseCachedBlocks(store);
          expect([limit, await shown()]).toEqual([limit, configured]);
        } finally {
          store.close();
        }
      }
    } finally {
      t.cleanup();
    }
  });
});
