"""Janus .mjr recordings made from media that ffmpeg encodes, for tests of
the recording worker when no Janus runs.

The format is Janus's own (src/record.c, MJR00002): the magic "MJR00002",
a 16-bit big-endian length and a JSON header {"t","c","s","u"} ("u" is the
wall time in microseconds of the first packet), then for each RTP packet
"MEET", a 32-bit millisecond offset from the first packet, a 16-bit length
and the packet. The packets here are what a browser would have sent: VP8
in RTP (RFC 7741, one-byte descriptor) and Opus in RTP (RFC 7587), so that
janus-pp-rec and ffmpeg run on them for real.
"""
import json
import os
import struct
import subprocess

MTU_PAYLOAD = 1100


def _rtp(pt, seq, ts, ssrc, marker, payload):
    return struct.pack('!BBHII', 0x80, (0x80 if marker else 0) | pt, seq & 0xffff,
                       ts & 0xffffffff, ssrc) + payload


def _write(path, kind, codec, first_us, packets):
    """packets: (milliseconds from the first, rtp bytes)."""
    head = json.dumps({'t': kind, 'c': codec, 's': first_us, 'u': first_us},
                      separators=(',', ':')).encode()
    with open(path, 'wb') as f:
        f.write(b'MJR00002' + struct.pack('!H', len(head)) + head)
        for ms, pkt in packets:
            f.write(b'MEET' + struct.pack('!IH', ms, len(pkt)) + pkt)


def _ivf_frames(data):
    """(pts in timebase units, frame bytes) of an IVF file, and its timebase."""
    rate, scale = struct.unpack_from('<II', data, 16)
    pos, out = struct.unpack_from('<H', data, 6)[0], []
    while pos + 12 <= len(data):
        size, pts = struct.unpack_from('<IQ', data, pos)
        out.append((pts, data[pos + 12:pos + 12 + size]))
        pos += 12 + size
    return out, scale / rate


def _ogg_packets(data):
    """The packets of an Ogg stream, in order."""
    pos, out, cur = 0, [], b''
    while pos + 27 <= len(data) and data[pos:pos + 4] == b'OggS':
        nseg = data[pos + 26]
        lacing = data[pos + 27:pos + 27 + nseg]
        body = pos + 27 + nseg
        for lace in lacing:
            cur += data[body:body + lace]
            body += lace
            if lace < 255:
                out.append(cur)
                cur = b''
        pos = body
    return out


def _ffmpeg(args):
    subprocess.run(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-y'] + args,
                   check=True, timeout=120)


def video_mjr(path, first_us, seconds, color, size='320x240', fps=15, ssrc=1111):
    """A VP8 stream: a moving test pattern over a coloured background."""
    ivf = path + '.ivf'
    _ffmpeg(['-f', 'lavfi', '-i', f'testsrc2=size={size}:rate={fps}:duration={seconds}',
             '-f', 'lavfi', '-i', f'color=c={color}:size={size}:rate={fps}:d={seconds}',
             '-filter_complex', '[0][1]blend=all_mode=average',
             '-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '300k', '-g', str(fps * 2),
             '-f', 'ivf', ivf])
    with open(ivf, 'rb') as f:
        frames, tb = _ivf_frames(f.read())
    os.unlink(ivf)
    packets, seq = [], 1
    for pts, frame in frames:
        ms = int(pts * tb * 1000)
        ts = int(pts * tb * 90000)
        chunks = [frame[i:i + MTU_PAYLOAD] for i in range(0, len(frame), MTU_PAYLOAD)]
        for i, chunk in enumerate(chunks):
            desc = b'\x10' if i == 0 else b'\x00'
            packets.append((ms, _rtp(96, seq, ts, ssrc, i == len(chunks) - 1, desc + chunk)))
            seq += 1
    _write(path, 'v', 'vp8', first_us, packets)


def audio_mjr(path, first_us, seconds, freq, ssrc=2222):
    """An Opus stream of 20 ms packets: a sine tone."""
    ogg = path + '.ogg'
    _ffmpeg(['-f', 'lavfi', '-i', f'sine=frequency={freq}:sample_rate=48000:duration={seconds}',
             '-c:a', 'libopus', '-b:a', '32k', '-frame_duration', '20', '-ac', '1', ogg])
    with open(ogg, 'rb') as f:
        opus = _ogg_packets(f.read())[2:]
    os.unlink(ogg)
    packets = [(i * 20, _rtp(111, i + 1, i * 960, ssrc, False, p)) for i, p in enumerate(opus)]
    _write(path, 'a', 'opus', first_us, packets)


def participant(folder, room, user, first_us, seconds, color, freq):
    """The two files Janus's VideoRoom writes for one publisher, named as it
    names them: videoroom-<room>-user-<id>-<µs>-{audio-0,video-1}.mjr."""
    base = os.path.join(folder, f'videoroom-{room}-user-{user}-{first_us}')
    video_mjr(base + '-video-1.mjr', first_us, seconds, color)
    audio_mjr(base + '-audio-0.mjr', first_us, seconds, freq)
