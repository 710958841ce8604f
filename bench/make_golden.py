#!/usr/bin/python3
"""make_golden.py - writes the golden files of the C model's test:

  tests/fixtures/golden/tiny.safetensors  a tiny model of docs/MODEL.md's
      architecture (default layer sizes, vocabularies of a few rows),
      PyTorch-initialised from a fixed seed and then every parameter times
      GAIN (default 2: at gain 1 all twelve logits lie within 0.004 of 0,
      so a wrong tower would barely move them; at 2 they spread over
      -0.36..-0.10 while the tanh towers stay unsaturated, |x| < 0.81),
      in movierec's safetensors layout
  tests/fixtures/golden/tiny.json         a list of samples with the
      expected eval-mode (no dropout) outputs in float32: "logit", "prob",
      and the towers' "user_vec" and "movie_vec" (48 floats each)

Made once and committed; run it again only when the architecture changes:

  /usr/bin/python3 bench/make_golden.py [--out tests/fixtures/golden] [--seed 1234] [--gain 2]

It uses the model of bench/torch_model.py (Debian's python3-torch).
"""
import argparse
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_model as tm  # noqa: E402

VOCAB = {"nusers": 6, "noccs": 4, "nmovies": 7, "ngenres": 5, "nwords": 9}  # unknown rows included


def pad(xs, n):
    return list(xs) + [-1] * (n - len(xs))


def samples(rng):
    """(user, gender, age, occ, movie, genres, words): unknown user and movie,
    every gender and age bucket, 0/1/3/4 genres, 0/1/2/5/14/15 title words,
    unknown words (index 0) among known ones."""
    def words(n):
        return [int(w) for w in rng.randint(0, VOCAB["nwords"], size=n)]
    return [
        (0, 0, 0, 0, 0, [0], []),                    # all unknown, no genre, no title
        (1, 1, 1, 1, 1, [2], [3]),                   # one genre, one word
        (2, 2, 2, 2, 2, [1, 3, 4], words(15)),       # three genres, full title
        (3, 1, 3, 3, 3, [4], [1, 2]),
        (4, 2, 4, 0, 4, [1, 2, 3, 4], [0, 5, 0]),    # every genre; unknown words
        (5, 0, 5, 1, 5, [0], [8] * 15),              # no genre, one word 15 times
        (1, 1, 6, 2, 6, [2, 3, 4], words(5)),        # as long as the widest window
        (2, 2, 7, 3, 0, [1], [1]),                   # unknown movie, known user
        (0, 1, 7, 2, 6, [2, 3, 4], words(5)),        # unknown user, known movie
        (3, 2, 0, 0, 1, [3], words(14)),
        (5, 1, 2, 3, 2, [1, 3, 4], [0] * 15),        # a title of unknown words only
        (4, 0, 1, 1, 3, [4], [7, 6]),
    ]


def encode_json(obj):
    """json.dumps, with float32 values written in their shortest exact form."""
    if isinstance(obj, np.float32):
        return str(obj)
    if isinstance(obj, list):
        return "[" + ",".join(encode_json(x) for x in obj) + "]"
    if isinstance(obj, dict):
        return "{" + ",".join(json.dumps(k) + ":" + encode_json(v) for k, v in obj.items()) + "}"
    return json.dumps(obj)


def read_safetensors(path):
    """Reads a file back (checks write_safetensors): (metadata, {name: array})."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0, "header not padded to 8"
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__")
    assert meta["crc32"] == "%08x" % (zlib.crc32(data) & 0xFFFFFFFF), "crc32 differs"
    out, end = {}, 0
    for name in tm.PARAM_ORDER:  # in the doc's order, back to back
        e = header[name]
        b0, b1 = e["data_offsets"]
        assert e["dtype"] == "F32" and b0 == end, name
        out[name] = np.frombuffer(data[b0:b1], dtype="<f4").reshape(e["shape"])
        end = b1
    assert end == len(data) and len(header) == len(tm.PARAM_ORDER)
    return meta, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.normpath(
        os.path.join(here, "..", "tests", "fixtures", "golden")))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--gain", type=float, default=2.0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    # Narrower fusion and towers than the defaults keep the committed file
    # small (~120 KB instead of ~770 KB); everything else is the default,
    # and the C side reads the sizes from the file's config.
    config = dict(tm.DEFAULT_CONFIG, **VOCAB, tower=48, hidden1=64, hidden2=32)
    model = tm.Model(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(args.gain)
    rng = np.random.RandomState(args.seed)
    rows = samples(rng)

    def col(i):
        return torch.tensor([r[i] for r in rows], dtype=torch.int64)
    user, gender, age, occ, movie = (col(i) for i in range(5))
    genres = torch.tensor([pad(r[5], tm.MAX_GENRES) for r in rows], dtype=torch.int64)
    words = torch.tensor([pad(r[6], tm.TITLE_LEN) for r in rows], dtype=torch.int64)
    with torch.no_grad():
        uvec = model.user(user, gender, age, occ)
        mvec = model.movie(movie, genres, words)
        logit = model.fusion(uvec, mvec)
        prob = torch.sigmoid(logit)
        # the same in float64, to show how far float32 rounding moves things
        m64 = tm.Model(config).double().eval()
        m64.load_state_dict(model.state_dict())
        logit64 = m64(user, gender, age, occ, movie, genres, words)
        full = model(user, gender, age, occ, movie, genres, words)
    assert torch.equal(full, logit)

    os.makedirs(args.out, exist_ok=True)
    st_path = os.path.join(args.out, "tiny.safetensors")
    js_path = os.path.join(args.out, "tiny.json")
    tm.write_safetensors(st_path, model)
    meta, back = read_safetensors(st_path)
    for name, t in model.state_dict().items():
        assert np.array_equal(back[name], t.numpy()), name
    assert json.loads(meta["config"]) == config

    out = []
    for i, r in enumerate(rows):
        out.append({"user": r[0], "gender": r[1], "age": r[2], "occ": r[3], "movie": r[4],
                    "genres": pad(r[5], tm.MAX_GENRES), "words": pad(r[6], tm.TITLE_LEN),
                    "logit": np.float32(logit[i].item()), "prob": np.float32(prob[i].item()),
                    "user_vec": [np.float32(x) for x in uvec[i].tolist()],
                    "movie_vec": [np.float32(x) for x in mvec[i].tolist()]})
    text = encode_json(out)
    json.loads(text)  # valid JSON
    with open(js_path, "w") as f:
        f.write(text.replace("},{", "},\n{") + "\n")

    print("wrote %s (%d bytes) and %s (%d bytes, %d samples); seed %d, gain %g"
          % (st_path, os.path.getsize(st_path), js_path, os.path.getsize(js_path), len(out),
             args.seed, args.gain))
    print("logits: " + " ".join("%.6f" % x for x in logit.tolist()))
    print("max |float32 - float64| logit: %.2e" % (logit.double() - logit64).abs().max().item())


if __name__ == "__main__":
    main()
