// Type-through: when the user types the characters the ghost text shows, the rest of it is the
// answer, at once and without asking latentd (which would answer the same from its own copy, but
// a round trip later). Editor-independent, so that node tests can drive it.

/** Where a completion was shown: the document, the cursor's line and the line's text before it. */
export interface ShownAt {
  uri: string;
  line: number;
  linePrefix: string;
}

export class TypeThrough {
  private shown?: ShownAt & { text: string };

  /** The completion `text` is shown at `at` (the only one remembered). */
  remember(at: ShownAt, text: string): void {
    this.shown = text ? { ...at, text } : undefined;
  }

  forget(): void {
    this.shown = undefined;
  }

  /**
   * The rest of the shown completion when the cursor is on its line and the user has typed the
   * completion's first characters there (and nothing else); undefined otherwise.
   */
  rest(at: ShownAt): string | undefined {
    const s = this.shown;
    if (!s || s.uri !== at.uri || s.line !== at.line || !at.linePrefix.startsWith(s.linePrefix)) return undefined;
    const typed = at.linePrefix.slice(s.linePrefix.length);
    if (!typed || typed.length >= s.text.length || !s.text.startsWith(typed)) return undefined;
    return s.text.slice(typed.length);
  }
}
