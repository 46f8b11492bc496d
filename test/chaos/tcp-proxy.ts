/**
 * A loopback TCP proxy whose connections the chaos suite can reset at once (RST on both sides), as a
 * flaky network or a middlebox would: lnmux reaches every node and the database through one.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<readonly [Socket, Socket]>();
  #port = 0;

  private constructor(targetPort: number) {
    this.#server = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
      const pair = [client, upstream] as const;
      this.#pairs.add(pair);
      const close = (): void => {
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  /** Listens on a free port of 127.0.0.1 and forwards every connection to 127.0.0.1:`targetPort`. */
  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = proxy.#server.address();
    proxy.#port = typeof address === 'object' && address !== null ? address.port : 0;
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  /** Open connections now. */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Resets every open connection (TCP RST both ways); returns how many. New connections are accepted. */
  resetAll(): number {
    const count = this.#pairs.size;
    for (const [client, upstream] of [...this.#pairs]) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.#pairs.clear();
    return count;
  }

  async stop(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
