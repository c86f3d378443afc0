// Replies a peer provokes (SPDY PING echoes, RST_STREAMs, SYN_REPLYs, WINDOW_UPDATEs; WebSocket
// pongs) cost the server a write each however little the peer reads: a client that sends PINGs and
// never reads would have them queue without end. While the peer is behind (the socket holds more
// unsent than its high-water mark), what such replies add is counted; past the budget the peer is
// not reading what it asks for, and the connection is closed rather than buffered for.

/** What provoked replies may add while the peer is behind: about 5000 PING echoes. */
export const MAX_UNREAD_REPLY_BYTES = 64 * 1024;

export class ReplyBudget {
  private owed = 0;

  constructor(private readonly max = MAX_UNREAD_REPLY_BYTES) {}

  /** Whether a reply of `bytes` may go out: always while the peer keeps up; while it is behind, until the budget is spent. */
  spend(bytes: number, behind: boolean): boolean {
    if (!behind) {
      this.owed = 0;
      return true;
    }
    this.owed += bytes;
    return this.owed <= this.max;
  }
}
