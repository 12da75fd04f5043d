/**
 * The demo's load: a few clients, each posting a record as soon as its last one was answered.
 * An answered write is an acknowledged write: it must never be lost.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface Ack {
  readonly id: number;
  /**
   * Epoch ms, Date.now(), when the client sent it and when the answer arrived: the wall clock
   * FreezeReport.startedAt and endedAt are on.
   */
  readonly sentAt: number;
  readonly ackedAt: number;
  /** Sent to answered, on the monotonic clock: never negative, whatever the wall clock does. */
  readonly latencyMs: number;
  /** The gate was closed when the request reached the service. */
  readonly held: boolean;
}

export class LoadGenerator {
  readonly acks: Ack[] = [];
  /** Requests that got no acknowledgement (an error or a non-201 answer). */
  failures = 0;
  private readonly agent = new Agent({ keepAlive: true });
  private running = false;
  private loops: Promise<void>[] = [];
  /** Per client: when it sent its latest request (Date.now()). */
  private lastSent: number[] = [];

  constructor(
    private readonly url: string,
    private readonly clients: number,
  ) {}

  start(): void {
    this.running = true;
    this.lastSent = new Array<number>(this.clients).fill(0);
    this.loops = Array.from({ length: this.clients }, (_, client) => this.loop(client));
  }

  /** Stops sending; resolves when every request sent has been answered. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
  }

  /**
   * Resolves once every client sent a request after `t` (epoch ms, Date.now()): each client is
   * sequential, so its requests from before `t` have all been answered. A request sent in
   * `t`'s own millisecond does not count. At most `timeoutMs` (also if the wall clock was
   * stepped back): returns false.
   */
  async passed(t: number, timeoutMs = 5_000): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    while (this.running && !this.lastSent.every((s) => s > t)) {
      if (performance.now() > end) return false;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return true;
  }

  private async loop(client: number): Promise<void> {
    for (let n = 0; this.running; n++) {
      const sentAt = Date.now();
      const sent = performance.now();
      this.lastSent[client] = sentAt;
      try {
        const answer = await this.post(JSON.stringify({ value: `client ${client} record ${n}` }));
        this.acks.push({ id: answer.id, sentAt, ackedAt: Date.now(), latencyMs: performance.now() - sent, held: answer.held });
      } catch {
        this.failures++;
      }
    }
  }

  private post(body: string): Promise<{ id: number; held: boolean }> {
    return new Promise((resolve, reject) => {
      const req = request(`${this.url}/records`, { method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 201) {
            reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8')}`));
            return;
          }
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: number; held: boolean });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}
