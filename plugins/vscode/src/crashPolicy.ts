// Caps restarts of a crashing latentd: at most `max` restarts within `windowMs`, so a daemon
// that dies on start (bad model path, broken install) is not relaunched forever.
// Same idea as vscode-languageclient's default handler, with the limit a user setting.
export class CrashPolicy {
  private crashes: number[] = [];

  constructor(private readonly max: number, private readonly windowMs = 3 * 60 * 1000,
              private readonly now: () => number = Date.now) {}

  /** Records a crash; true when the server may be restarted once more. */
  shouldRestart(): boolean {
    const t = this.now();
    this.crashes = this.crashes.filter((c) => t - c < this.windowMs);
    this.crashes.push(t);
    return this.crashes.length <= this.max;
  }

  /** Number of crashes inside the current window. */
  get recent(): number {
    return this.crashes.length;
  }

  reset(): void {
    this.crashes = [];
  }
}
