// The local camera and microphone: opening them with a chosen device,
// listing devices, and the screen.

export async function openLocal({ audio = true, video = true, audioId = '', videoId = '' } = {}) {
  const want = {
    audio: audio ? (audioId ? { deviceId: { exact: audioId } } : true) : false,
    video: video ? (videoId ? { deviceId: { exact: videoId } } : { width: 640, height: 480 }) : false,
  };
  if (!want.audio && !want.video) return new MediaStream();
  try {
    return await navigator.mediaDevices.getUserMedia(want);
  } catch (err) {
    // No camera (or it is refused): carry on with the microphone alone.
    if (want.video && want.audio) {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: want.audio });
      stream.videoError = err;
      return stream;
    }
    throw err;
  }
}

export function stopStream(stream) {
  for (const t of stream?.getTracks() || []) t.stop();
}

export async function listDevices() {
  const all = await navigator.mediaDevices.enumerateDevices();
  const pick = (kind) => all.filter((d) => d.kind === kind && d.deviceId)
    .map((d, i) => ({ id: d.deviceId, label: d.label || `${kind === 'audioinput' ? 'Microphone' : 'Camera'} ${i + 1}` }));
  return { mics: pick('audioinput'), cams: pick('videoinput') };
}

export async function openScreen() {
  const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  return stream.getVideoTracks()[0];
}

export function canShareScreen() {
  return Boolean(navigator.mediaDevices?.getDisplayMedia);
}
