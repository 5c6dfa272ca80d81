// Recording in the mesh: the browser of the host or moderator who starts it
// records its own camera and microphone with MediaRecorder and uploads the
// file when the recording stops (SPEC 3.14-3.16, "the media is captured by a
// client"). When the server records (its recording's `source` is `server`:
// SPEC 7, the SFU), this browser captures nothing: the server makes the file.

import { api } from './api.js';

export class Recorder {
  constructor(meetingId, stream, onChange) {
    this.meetingId = meetingId;
    this.stream = stream;
    this.onChange = onChange;     // (text) => void, for the status line
    this.active = null;           // {rec, recordingId, chunks}
    this.server = null;           // recording_id of a recording the server makes
  }

  async start() {
    if (!this.stream.getTracks().length) {
      throw new Error('Nothing to record: this device has no camera or microphone open.');
    }
    const data = await api('POST', `/meetings/${this.meetingId}/recording/start`);
    // Capture at once (a stop may follow quickly), and let it go if the
    // server records; its upload waits until that is known.
    this.capture(data.recording_id);
    const byServer = this.recordedByServer(data.recording_id).catch(() => false);
    this.active.byServer = byServer;
    if (await byServer) {
      this.server = data.recording_id;
      this.discard(data.recording_id);
      this.onChange('The server is recording this meeting.');
    }
    return data.recording_id;
  }

  async recordedByServer(recordingId) {
    const data = await api('GET', `/meetings/${this.meetingId}/recordings`);
    return data.recordings.some((r) => r.recording_id === recordingId && r.source === 'server');
  }

  capture(recordingId) {
    const type = ['video/webm;codecs=vp8,opus', 'video/webm', 'audio/webm']
      .find((t) => MediaRecorder.isTypeSupported(t));
    const rec = new MediaRecorder(this.stream, type ? { mimeType: type } : {});
    const r = { rec, recordingId, chunks: [], type: (type || 'video/webm').split(';')[0] };
    rec.ondataavailable = (e) => { if (e.data.size) r.chunks.push(e.data); };
    rec.onstop = () => this.upload(r).catch(() => this.onChange('The recording could not be saved.'));
    rec.start(1000);
    this.active = r;
  }

  async stop() {
    try {
      await api('POST', `/meetings/${this.meetingId}/recording/stop`);
      if (this.server) this.onChange('Recording stopped: the server is making its file.');
      this.server = null;
    } finally {
      this.stopCapture();
    }
  }

  // The meeting stopped recording (our stop, another moderator's, the end).
  stopCapture(recordingId) {
    const r = this.active;
    if (!r || (recordingId && r.recordingId !== recordingId)) return;
    this.active = null;
    if (r.rec.state !== 'inactive') r.rec.stop();     // onstop uploads
  }

  // The capture of a recording the server makes: stopped (upload() then
  // does nothing).
  discard(recordingId) {
    const r = this.active?.recordingId === recordingId ? this.active : null;
    if (!r) return;
    this.active = null;
    if (r.rec.state !== 'inactive') r.rec.stop();
  }

  async upload(r) {
    if (await r.byServer) return;
    this.onChange('Saving the recording…');
    const blob = new Blob(r.chunks, { type: r.type });
    const path = `/meetings/${this.meetingId}/recordings/${r.recordingId}/file`;
    await api('PUT', path, blob);
    this.onChange('The recording was saved.');
  }
}
