#!/usr/bin/env python3
"""Compare `sauti replay --json` with the tshark truth of every corpus capture.

usage: scripts/compare-truth.py [SAUTI_BINARY] [CORPUS_DIR]
Prints one line per stream and a summary; exits 1 on any mismatch.
"""
import json, os, subprocess, sys, glob

sauti = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/sauti"
corpus = sys.argv[2] if len(sys.argv) > 2 else "../shared/corpus"
decode_as = {"DLT_NULL.a.pcap": ["--decode-as", "12344"]}
bad = 0
for truth_path in sorted(glob.glob(f"{corpus}/**/*.truth.json", recursive=True)):
    cap = truth_path[: -len(".truth.json")]
    if not os.path.exists(cap):
        continue
    truth = json.load(open(truth_path))
    if "rtp_streams_wireshark" not in truth:
        continue
    args = [sauti, "replay", cap, "--json", "--quiet"] + decode_as.get(os.path.basename(cap), [])
    r = subprocess.run(args, capture_output=True, text=True)
    try:
        rep = json.loads(r.stdout)
    except Exception:
        print(f"FAIL {cap}: no JSON (rc {r.returncode}) {r.stderr[:300]}")
        bad += 1
        continue
    ours = {(s["source"], s["destination"], s["ssrc"]): s for s in rep["streams"]}
    want = truth["rtp_streams_wireshark"]
    if len(ours) != len(want):
        print(f"FAIL {os.path.basename(cap)}: {len(ours)} streams, tshark {len(want)}: {sorted(ours)}")
        bad += 1
    for w in want:
        def ep(s):
            a, p = s.rsplit(":", 1)
            return f"[{a}]:{p}" if ":" in a else s
        k = (ep(w["src"]), ep(w["dst"]), w["ssrc"].upper().replace("0X", "0x"))
        s = ours.get(k)
        if s is None:
            print(f"FAIL {os.path.basename(cap)}: missing {k}")
            bad += 1
            continue
        diffs = []
        if s["packets"] != w["packets"]: diffs.append(f"packets {s['packets']} vs {w['packets']}")
        if s["lost"] != w["lost"]: diffs.append(f"lost {s['lost']} vs {w['lost']}")
        for ours_k, w_k in [("mean_jitter_ms", "mean_jitter_ms"), ("max_jitter_ms", "max_jitter_ms"),
                            ("max_delta_ms", "max_delta_ms"), ("mean_delta_ms", "mean_delta_ms"), ("min_delta_ms", "min_delta_ms")]:
            if abs(s[ours_k] - w[w_k]) > 0.01 + 0.0005:
                diffs.append(f"{ours_k} {s[ours_k]:.3f} vs {w[w_k]:.3f}")
        if s["problems"] != w["problems"]: diffs.append(f"problems {s['problems']} vs {w['problems']}")
        status = "ok  " if not diffs else "FAIL"
        if diffs: bad += 1
        print(f"{status} {os.path.basename(cap)} {k[2]} {'; '.join(diffs)}")
print("mismatches:", bad)
sys.exit(1 if bad else 0)
