/** The peer broke SPDY/3.1: the session ends with a GOAWAY carrying PROTOCOL_ERROR. */
export class SpdyProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpdyProtocolError';
  }
}
