/**
 * A TCP proxy in front of the test PostgreSQL that can play a failing network: cut every connection
 * ('down'), or cut the one that sends COMMIT (or a statement that commits alone), either before the
 * server sees it or after the server answered (so the client cannot know whether it committed). Also a silent server that accepts
 * connections and never answers.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'up' | 'down' | 'dropBeforeCommit' | 'dropAfterCommit';

/** A simple-protocol Query message for COMMIT: 'Q', int32 length 11, "COMMIT\0". */
const COMMIT = Buffer.concat([Buffer.from('Q'), Buffer.from([0, 0, 0, 11]), Buffer.from('COMMIT\0')]);

export interface Proxy {
  readonly port: number;
  mode: ProxyMode;
  /**
   * Text of a statement that commits by itself (autocommit): its message counts as a COMMIT for the
   * drop modes. Undefined: only COMMIT does.
   */
  commitsAlone: string | undefined;
  /** How many COMMITs were cut (each cut resets the mode to 'up'). */
  readonly cuts: number;
  /** How many connections were refused (closed at once) while 'down'. */
  readonly refused: number;
  close(): Promise<void>;
}

export async function startProxy(upstreamHost: string, upstreamPort: number): Promise<Proxy> {
  const sockets = new Set<Socket>();
  let cuts = 0;
  let refused = 0;
  const state = { mode: 'up' as ProxyMode, commitsAlone: undefined as string | undefined };
  const commits = (chunk: Buffer): boolean =>
    chunk.includes(COMMIT) || (state.commitsAlone !== undefined && chunk.includes(state.commitsAlone));
  const cutAll = (): void => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  const server = createServer((client) => {
    if (state.mode === 'down') {
      refused++;
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: upstreamHost, port: upstreamPort });
    sockets.add(client);
    sockets.add(upstream);
    let swallowReply = false;
    const cut = (): void => {
      cuts++;
      state.mode = 'up';
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (state.mode === 'dropBeforeCommit' && commits(chunk)) return cut();
      if (state.mode === 'dropAfterCommit' && commits(chunk)) swallowReply = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (swallowReply) return cut();
      client.write(chunk);
    });
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  });
  await listen(server);
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get mode() {
      return state.mode;
    },
    set mode(mode: ProxyMode) {
      state.mode = mode;
      if (mode === 'down') cutAll();
    },
    get commitsAlone() {
      return state.commitsAlone;
    },
    set commitsAlone(text: string | undefined) {
      state.commitsAlone = text;
    },
    get cuts() {
      return cuts;
    },
    get refused() {
      return refused;
    },
    close: async () => {
      cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A server that accepts TCP connections and never says a word: a connect must time out. */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await listen(server);
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A local port on which nothing listens (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await listen(server);
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
}
