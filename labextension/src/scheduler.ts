/**
 * `Throttle`: runs an async task on request, one run at a time and at most once per interval.
 *
 * Requests made while a run is in flight, or sooner than the interval after the last run
 * started, are coalesced into a single later run, so a burst of triggers (Run All fires one
 * per cell) costs one or two requests, never a storm.
 */
export class Throttle {
  constructor(
    private readonly task: () => Promise<void>,
    private readonly intervalMs = 1000
  ) {}

  /** Ask for a run: now if allowed, else once the current run ends and the interval has passed. */
  request(): void {
    if (this.disposed) {
      return;
    }
    this.wanted = true;
    this.schedule();
  }

  /** Stop: no further runs start (one in flight finishes). */
  dispose(): void {
    this.disposed = true;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private schedule(): void {
    if (!this.wanted || this.running || this.timer !== null || this.disposed) {
      return;
    }
    const wait = this.lastStart + this.intervalMs - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, wait);
      return;
    }
    void this.run();
  }

  private async run(): Promise<void> {
    this.wanted = false;
    this.running = true;
    this.lastStart = Date.now();
    try {
      await this.task();
    } catch (error) {
      console.error('nbassets: refresh failed', error);
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  private wanted = false;
  private running = false;
  private disposed = false;
  private lastStart = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
}
