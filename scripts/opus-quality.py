#!/usr/bin/env python3
"""Opus quality by encoder setting: PESQ (ITU-T P.862, narrowband; P.862.2, wideband) of
libopus's decode against the source, and the encoder's CPU time per 20 ms frame, for the
settings an Opus leg runs with (VOIP, voice, 24 kb/s VBR) at each complexity.

Cases:
  nb-*: audio from a G.711 leg (8 kHz speech, taken to 16 kHz by sox as the bridge takes it
        to a 16 kHz Opus leg), decoded at 8 kHz and scored narrowband against the 8 kHz
        source: coded wideband (before), with the band limited to narrowband (a bridge to
        an 8 kHz leg now), FEC sized for 10 % loss or none (0 % reported);
        and, for comparison, CELT only (OPUS_APPLICATION_RESTRICTED_LOWDELAY) at 8 kHz;
  wb-*: 16 kHz speech between two Opus legs, decoded at 16 kHz, scored wideband.

Needs libopus (libopus0), sox, and Python with numpy and pesq (PyPI):
  python3 -m venv /tmp/pesq && /tmp/pesq/bin/pip install numpy pesq
  /tmp/pesq/bin/python scripts/opus-quality.py [--corpus ../shared/corpus] [--complexities 0,1,2,3,5,6,8,10]

The corpus speech is espeak-ng's (synthetic): PESQ is made for natural speech, so read the
figures as a comparison between settings, not as MOS of a real call.
"""
import argparse
import ctypes
import ctypes.util
import os
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np
from pesq import pesq

OPUS_APPLICATION_VOIP = 2048
OPUS_APPLICATION_RESTRICTED_LOWDELAY = 2051
OPUS_SET_BITRATE = 4002
OPUS_SET_MAX_BANDWIDTH = 4004
OPUS_SET_VBR = 4006
OPUS_SET_COMPLEXITY = 4010
OPUS_SET_INBAND_FEC = 4012
OPUS_SET_PACKET_LOSS_PERC = 4014
OPUS_SET_SIGNAL = 4024
OPUS_SIGNAL_VOICE = 3001
OPUS_BANDWIDTH_NARROWBAND = 1101
OPUS_BANDWIDTH_FULLBAND = 1105

lib = ctypes.CDLL(ctypes.util.find_library("opus") or "libopus.so.0")
lib.opus_encoder_create.restype = ctypes.c_void_p
lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
lib.opus_decoder_create.restype = ctypes.c_void_p
lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
lib.opus_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int32]
lib.opus_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
lib.opus_encoder_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int32]
lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]


def read_wav(path):
    with wave.open(path) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), w.getframerate()


def code(pcm, rate, decode_rate, complexity, narrowband, loss_percent, application=OPUS_APPLICATION_VOIP):
    """Encodes `pcm` (int16 at `rate`) in 20 ms frames and decodes it at `decode_rate`;
    returns the decode and the encoder's CPU time per frame in µs."""
    err = ctypes.c_int()
    enc = lib.opus_encoder_create(rate, 1, application, ctypes.byref(err))
    dec = lib.opus_decoder_create(decode_rate, 1, ctypes.byref(err))
    for request, value in [
        (OPUS_SET_SIGNAL, OPUS_SIGNAL_VOICE), (OPUS_SET_BITRATE, 24000), (OPUS_SET_COMPLEXITY, complexity),
        (OPUS_SET_VBR, 1), (OPUS_SET_INBAND_FEC, 1), (OPUS_SET_PACKET_LOSS_PERC, loss_percent),
        (OPUS_SET_MAX_BANDWIDTH, OPUS_BANDWIDTH_NARROWBAND if narrowband else OPUS_BANDWIDTH_FULLBAND),
    ]:
        lib.opus_encoder_ctl(enc, request, value)
    n = rate // 50
    packet = ctypes.create_string_buffer(1500)
    out = np.zeros(decode_rate // 50, dtype=np.int16)
    decoded = []
    cpu = 0.0
    frames = 0
    for start in range(0, len(pcm) - n + 1, n):
        frame = np.ascontiguousarray(pcm[start:start + n])
        t0 = time.thread_time()
        length = lib.opus_encode(enc, frame.ctypes.data, n, packet, 1500)
        cpu += time.thread_time() - t0
        frames += 1
        got = lib.opus_decode(dec, packet, length, out.ctypes.data, len(out), 0)
        decoded.append(out[:max(got, 0)].copy())
    lib.opus_encoder_destroy(enc)
    lib.opus_decoder_destroy(dec)
    return np.concatenate(decoded), cpu / frames * 1e6


def score(reference, decoded, rate):
    m = min(len(reference), len(decoded))
    return pesq(rate, reference[:m].astype(np.float32), decoded[:m].astype(np.float32), "nb" if rate == 8000 else "wb")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(here, "..", "..", "shared", "corpus"))
    ap.add_argument("--complexities", default="0,1,2,3,5,6,8,10")
    args = ap.parse_args()
    src = os.path.join(args.corpus, "audio_src")
    narrow, _ = read_wav(os.path.join(src, "speech_8k.wav"))
    wide, _ = read_wav(os.path.join(src, "speech_16k.wav"))
    with tempfile.TemporaryDirectory() as tmp:
        # The bridge's 8 -> 16 kHz step (libspeexdsp in the engine; sox here).
        up = os.path.join(tmp, "up.wav")
        subprocess.run(["sox", "-D", os.path.join(src, "speech_8k.wav"), "-r", "16000", up], check=True)
        upsampled, _ = read_wav(up)
    voip = OPUS_APPLICATION_VOIP
    cases = [
        ("nb wideband  FEC 10%", upsampled, 16000, 8000, False, 10, narrow, voip),
        ("nb narrowband FEC 10%", upsampled, 16000, 8000, True, 10, narrow, voip),
        ("nb narrowband FEC 0%", upsampled, 16000, 8000, True, 0, narrow, voip),
        # CELT only (no SILK, so no in-band FEC), at the 8 kHz source's rate.
        ("nb CELT-only (RLD)", narrow, 8000, 8000, False, 0, narrow, OPUS_APPLICATION_RESTRICTED_LOWDELAY),
        ("wb            FEC 10%", wide, 16000, 16000, False, 10, wide, voip),
        ("wb            FEC 0%", wide, 16000, 16000, False, 0, wide, voip),
    ]
    print("PESQ of libopus decode vs source (VOIP unless said, voice, 24 kb/s VBR); encoder CPU per 20 ms frame")
    print("case                    " + "".join(f"   c={c:<2}          " for c in args.complexities.split(",")))
    for name, pcm, rate, decode_rate, narrowband, loss, reference, application in cases:
        cells = []
        for c in [int(x) for x in args.complexities.split(",")]:
            decoded, us = code(pcm, rate, decode_rate, c, narrowband, loss, application)
            cells.append(f"{score(reference, decoded, decode_rate):5.2f} {us:6.1f} us  ")
        print(f"{name:22s}  " + "".join(cells))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
