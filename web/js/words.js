// Everything that can go wrong, said in words a person understands. The
// client never shows an HTTP status or a machine code.

const BY_CODE = {
  network: 'Cannot reach the server. Check your connection and try again.',
  wrong_password: 'That meeting password is not right.',
  meeting_full: 'The meeting is full. Try again when someone leaves.',
  token_expired: 'Your session has expired. Please sign in again.',
  unauthorized: 'Your session has ended. Please sign in again.',
  service_unavailable: 'The service is busy for a moment. Please try again shortly.',
  body_too_large: 'That is too large to send.',
};

const BY_STATUS = {
  403: 'You are not allowed to do that in this meeting.',
  404: 'That meeting does not exist, or it was deleted.',
  409: 'That cannot be done in the meeting\'s current state.',
  413: 'That is too large to send.',
  500: 'Something went wrong on the server. Please try again.',
};

function wait(seconds) {
  if (!seconds) return 'a moment';
  return seconds === 1 ? '1 second' : `${seconds} seconds`;
}

// An ApiError (or anything thrown) as one sentence. `context` may override
// per status or code: {409: 'The meeting has not started yet.'}.
export function words(err, context = {}) {
  if (!err) return '';
  if (err.status === 429) return `Too many attempts. Please wait ${wait(err.retryAfter)} and try again.`;
  if (context[err.code]) return context[err.code];
  if (context[err.status]) return context[err.status];
  if (BY_CODE[err.code]) return BY_CODE[err.code];
  if (err.status === 400 || err.code === 'invalid_field') {
    // The server's sentence about the one field at fault is written for people.
    return err.message ? capitalise(err.message) : 'Please check what you entered.';
  }
  if (err.name === 'NotAllowedError') return 'Camera or microphone access was blocked.';
  if (err.name === 'NotFoundError') return 'No camera or microphone was found.';
  if (err.name === 'NotReadableError') return 'The camera or microphone is in use by another app.';
  // The client's own sentences (not from the server) are already in words.
  if (err.status === undefined && err.message && !(err instanceof DOMException)) return err.message;
  return BY_STATUS[err.status] || BY_STATUS[500];
}

function capitalise(s) {
  const t = s.trim();
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

// Why the signaling connection ended for good, by close code.
export const CLOSE_WORDS = {
  4403: { title: 'You were removed from the meeting', text: 'The host removed you from this meeting.' },
  4410: { title: 'The meeting has ended', text: 'The host ended the meeting for everyone.' },
  4429: { title: 'The meeting is full', text: 'There is no free place in this meeting right now.' },
  4409: { title: 'You joined from another window', text: 'This meeting is open in another tab or device.' },
};

export const SIGNAL_ERRORS = {
  SCREEN_SHARE_DISABLED: 'Screen sharing is turned off in this meeting.',
  RATE_LIMITED: 'You are doing that too fast. Slow down a little.',
  // Media through the SFU: when the media server is back, signald sends
  // sfu-reset and the call publishes again by itself (web/sfu.js).
  SFU_UNAVAILABLE: 'The media server cannot be reached right now. Your audio and video '
    + 'come back when it does.',
  SFU_REFUSED: 'The media server could not set up your audio and video. Leave and join '
    + 'again to retry.',
};
