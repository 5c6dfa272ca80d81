// The signaling socket (docs/signaling.md): JSON frames in, JSON frames out,
// frames handled strictly one after another (an ice-candidate must not
// overtake its offer). It does not decide about reconnecting: it reports
// the close code and the call session chooses.

export class Signaling extends EventTarget {
  constructor(onFrame) {
    super();
    this.onFrame = onFrame;      // async (frame) => void
    this.ws = null;
    this.inbox = Promise.resolve();
    this.frames = [];            // every frame received, for tests and debugging
  }

  connect(url) {
    this.close();
    const ws = new WebSocket(url);
    this.ws = ws;
    this.status('connecting');
    ws.onopen = () => { if (this.ws === ws) this.status('open'); };
    ws.onmessage = (e) => {
      if (this.ws !== ws) return;
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (!f || typeof f.type !== 'string') return;
      this.frames.push(f);
      if (this.frames.length > 2000) this.frames.splice(0, 1000);
      this.inbox = this.inbox.then(() => this.onFrame(f))
        .catch((err) => console.warn(`signaling: ${f.type}: ${err.message}`));
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;   // an older socket we replaced
      this.ws = null;
      this.closedAt = Date.now();
      this.status('closed', e.code);
    };
  }

  status(state, code) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('status', { detail: { state, code } }));
  }

  send(frame) {
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  // Closes without reporting (the caller is leaving on purpose).
  close() {
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
  }
}
