/**
 * Per-file fixtures: one simulated cluster for the whole file, and per backend (PGlite always,
 * PostgreSQL when LNMUX_TEST_DATABASE_URL is set) one fresh database with a store on it, made by
 * test/store/helpers.ts (a PGlite from the template, or a uniquely named PostgreSQL database dropped
 * at the end).
 */
import { afterAll, beforeAll } from 'vitest';
import { startCluster, type ClusterOptions, type SimCluster } from '../../../src/sim/cluster.js';
import type { Store } from '../../../src/store/types.js';
import { useTestDatabase, type BackendName, type TestDatabase } from '../../store/helpers.js';

export { describeEachBackend, describeOnPostgres, TEST_DATABASE_URL, type BackendName } from '../../store/helpers.js';

/** Starts one cluster for the calling file (beforeAll) and stops it at the end (afterAll). */
export function useCluster(options: ClusterOptions = {}): () => SimCluster {
  let cluster: SimCluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, ...options });
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  return () => {
    if (cluster === undefined) throw new Error('cluster not started');
    return cluster;
  };
}

/** A database of `backend` for the calling describe block, with one store on it (emptied at start). */
export function useStore(backend: BackendName): { store: () => Store; database: TestDatabase } {
  const database = useTestDatabase(backend);
  let store: Store | undefined;
  beforeAll(async () => {
    store = await database.freshStore();
  });
  return {
    database,
    store: () => {
      if (store === undefined) throw new Error('store not ready');
      return store;
    },
  };
}
