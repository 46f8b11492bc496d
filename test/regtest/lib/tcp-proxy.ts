/**
 * A TCP proxy between lnmux and one LND node, for the restart scenario: freezing the client-to-node
 * direction lets lnmux receive an HTLC and commit its settle decision while its SETTLE cannot reach LND;
 * killing lnmux then drops what it had sent, exactly as a crash between the commit and the SETTLE would.
 * The node-to-client direction always flows.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Client bytes held while frozen; dropped, never delivered, if the pair closes before a thaw. */
  held: Buffer[];
}

export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private frozen = false;

  private constructor(private readonly server: Server, readonly port: number, private readonly target: { host: string; port: number }) {
    server.on('connection', (client) => this.accept(client));
  }

  /** Listens on 127.0.0.1 (a free port) and forwards to `target` ("host:port"). */
  static async start(target: string): Promise<TcpProxy> {
    const [host, port] = target.split(':');
    if (host === undefined || port === undefined) throw new TypeError(`target: expected host:port, got ${target}`);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('TcpProxy: no TCP address');
    return new TcpProxy(server, address.port, { host, port: Number(port) });
  }

  /** host:port to give lnmux instead of the node's. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Holds every byte from clients to the node from now on (the node's replies still flow). */
  freezeUpstream(): void {
    this.frozen = true;
  }

  /** Delivers what was held and forwards again. */
  thaw(): void {
    this.frozen = false;
    for (const pair of this.pairs) {
      for (const chunk of pair.held.splice(0)) pair.upstream.write(chunk);
    }
  }

  /** Closes every connection at once, dropping the held bytes. */
  dropAll(): void {
    for (const pair of this.pairs) this.drop(pair);
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    const pair: Pair = { client, upstream, held: [] };
    this.pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      if (this.frozen) pair.held.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    // A side that ends or fails takes the pair down, held bytes included.
    for (const socket of [client, upstream]) {
      socket.on('error', () => this.drop(pair));
      socket.on('close', () => this.drop(pair));
    }
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.held.length = 0;
    pair.client.destroy();
    pair.upstream.destroy();
  }
}
