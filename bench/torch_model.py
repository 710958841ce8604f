#!/usr/bin/python3
"""torch_model.py - the PyTorch reference of movierec's deep model.

Reads a movierec store (<home>/movierec.db), builds the vocabularies and
the encodings of docs/MODEL.md byte for byte like src/model/features.c,
trains the same architecture with the same labels, splits, negatives and
metrics as `movierec train`, and prints one line per epoch and, last, one
JSON line with the figures bench/model.sh puts side by side:

  train_samples_per_s  training samples per second of training time (the
                       epoch's negative sampling, shuffling, forward,
                       backward and Adam; evaluation excluded)
  score_pairs_per_s    pairs scored per second, no grad, batches of 1024
                       (the validation pairs of the last evaluation)
  peak_rss_mb          getrusage(RUSAGE_SELF).ru_maxrss in MiB
  val_logloss, val_auc, hr10, ndcg10 (null for --label like)
  seconds              wall time of the whole run (load, train, evaluate)

Run it with the system python, which has Debian's python3-torch:

  /usr/bin/python3 bench/torch_model.py --home /tmp/h --epochs 5 --threads 2

The model class and write_safetensors() are also used by
bench/make_golden.py.
"""
import argparse
import json
import os
import resource
import sqlite3
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MAX_GENRES = 10
TITLE_LEN = 15
WORD_MAX_BYTES = 127  # features.c keeps the first 127 bytes of a word

DEFAULT_CONFIG = {
    "user_emb": 32, "gender_emb": 16, "age_emb": 16, "occ_emb": 16,
    "movie_emb": 32, "genre_emb": 32, "word_emb": 32,
    "attr_fc": 32, "tower": 200, "conv_filters": 8, "conv_min": 2,
    "hidden1": 256, "hidden2": 128, "title_dropout": 0.5,
}

# --------------------------------------------------------------------------
# vocabularies and encodings (docs/MODEL.md, src/model/features.c)


def age_bucket(age):
    if age is None or age <= 0:
        return 0
    for i, upper in enumerate((18, 25, 35, 45, 50, 56)):
        if age < upper:
            return i + 1
    return 7


def _utf8_complete(w):
    """Drops a multi-byte UTF-8 character cut at the end (text_utf8_complete)."""
    n = len(w)
    i = n
    while i > 0 and n - i < 3 and (w[i - 1] & 0xC0) == 0x80:
        i -= 1
    if i == 0:
        return w
    lead = w[i - 1]
    if lead < 0xC0:
        return w
    need = 4 if lead >= 0xF0 else 3 if lead >= 0xE0 else 2
    return w if n - (i - 1) >= need else w[:i - 1]


def _is_word_byte(c):
    return c >= 0x80 or 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122


def title_words(title, limit=0):
    """The title's words as bytes: ASCII lower-cased, split at every byte that
    is not an ASCII letter or digit and not >= 0x80 (feat_title_words)."""
    out = []
    cur = bytearray()
    for c in bytes(title) + b"\0":
        if c and _is_word_byte(c):
            if len(cur) < WORD_MAX_BYTES:
                cur.append(c + 32 if 65 <= c <= 90 else c)
            continue
        if cur:
            w = _utf8_complete(bytes(cur))
            cur = bytearray()
            if w:
                out.append(w)
            if limit and len(out) >= limit:
                break
    return out


class Data:
    """Everything training reads: vocabularies, encoded users and movies
    (row 0 = unknown), and the ratings as index arrays."""

    def __init__(self, home, min_word_count=2):
        path = os.path.join(home, "movierec.db")
        if not os.path.exists(path):
            sys.exit("torch_model: no store at '%s'" % path)
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        db.text_factory = bytes
        users = db.execute("SELECT id, gender, age, occupation FROM users ORDER BY id").fetchall()
        movies = db.execute("SELECT id, title FROM movies ORDER BY id").fetchall()
        mg = db.execute("SELECT mg.movie_id, g.name FROM movie_genres mg"
                        " JOIN genres g ON g.id = mg.genre_id"
                        " ORDER BY mg.movie_id, g.name").fetchall()
        ratings = np.array(db.execute("SELECT user_id, movie_id, score, time FROM ratings"
                                      " ORDER BY user_id, movie_id").fetchall(), dtype=np.float64)
        db.close()
        if len(ratings) == 0:
            sys.exit("torch_model: the store holds no ratings")

        # users: ids ascending; occupations: distinct non-empty names in byte order
        self.user_ids = np.array([u[0] for u in users], dtype=np.int64)
        occs = sorted({u[3] for u in users if u[3]})
        occ_index = {o: i + 1 for i, o in enumerate(occs)}
        uf = np.zeros((len(users) + 1, 4), dtype=np.int64)  # user, gender, age, occ
        for i, (uid, gender, age, occ) in enumerate(users):
            g = gender[:1] if gender else b""
            uf[i + 1] = (i + 1, 1 if g == b"M" else 2 if g == b"F" else 0,
                         age_bucket(age), occ_index.get(occ, 0) if occ else 0)

        # movies: ids ascending; genres: the names movies have, in byte order
        self.movie_ids = np.array([m[0] for m in movies], dtype=np.int64)
        mgenres = {}
        for mid, name in mg:
            if name:
                mgenres.setdefault(mid, []).append(name)
        genres = sorted({n for names in mgenres.values() for n in names})
        genre_index = {g: i + 1 for i, g in enumerate(genres)}

        # title words: count over all titles, keep count >= min_word_count
        counts = {}
        for _, title in movies:
            for w in title_words(title or b""):
                counts[w] = counts.get(w, 0) + 1
        kept = sorted((w for w, c in counts.items() if c >= min_word_count),
                      key=lambda w: (-counts[w], w))
        word_index = {w: i + 1 for i, w in enumerate(kept)}

        mgen = np.full((len(movies) + 1, MAX_GENRES), -1, dtype=np.int64)
        mwords = np.full((len(movies) + 1, TITLE_LEN), -1, dtype=np.int64)
        mgen[0, 0] = 0  # the unknown movie: no genre, no title
        for i, (mid, title) in enumerate(movies):
            idx = [genre_index[n] for n in mgenres.get(mid, [])][:MAX_GENRES]
            mgen[i + 1, :len(idx) or 1] = idx or [0]
            ws = [word_index.get(w, 0) for w in title_words(title or b"", TITLE_LEN)]
            mwords[i + 1, :len(ws)] = ws

        self.occupations, self.genres, self.words = occs, genres, kept
        self.nusers, self.nmovies = len(users) + 1, len(movies) + 1
        self.noccs, self.ngenres, self.nwords = len(occs) + 1, len(genres) + 1, len(kept) + 1
        self.user_feat = torch.from_numpy(uf)
        self.movie_genres = torch.from_numpy(mgen)
        self.movie_words = torch.from_numpy(mwords)

        # ratings as (user index, movie index, score, time), grouped by user
        self.r_user = np.searchsorted(self.user_ids, ratings[:, 0].astype(np.int64)) + 1
        self.r_movie = np.searchsorted(self.movie_ids, ratings[:, 1].astype(np.int64)) + 1
        self.r_score = ratings[:, 2]
        self.r_time = ratings[:, 3].astype(np.int64)
        # every rated pair as one sorted key, for "has u rated m"
        self.rated_keys = np.sort(self.r_user * self.nmovies + self.r_movie)

    def rated(self, u, m):
        keys = u * self.nmovies + m
        pos = np.searchsorted(self.rated_keys, keys)
        pos = np.minimum(pos, len(self.rated_keys) - 1)
        return self.rated_keys[pos] == keys

    def config(self):
        c = dict(DEFAULT_CONFIG)
        c.update(nusers=self.nusers, noccs=self.noccs, nmovies=self.nmovies,
                 ngenres=self.ngenres, nwords=self.nwords)
        return c


# --------------------------------------------------------------------------
# the model (docs/MODEL.md; parameter names are the doc's)


class UserTower(nn.Module):
    def __init__(self, c):
        super().__init__()
        A = c["attr_fc"]
        self.id_emb = nn.Embedding(c["nusers"], c["user_emb"])
        self.gender_emb = nn.Embedding(3, c["gender_emb"])
        self.age_emb = nn.Embedding(8, c["age_emb"])
        self.occ_emb = nn.Embedding(c["noccs"], c["occ_emb"])
        self.id_fc = nn.Linear(c["user_emb"], A)
        self.gender_fc = nn.Linear(c["gender_emb"], A)
        self.age_fc = nn.Linear(c["age_emb"], A)
        self.occ_fc = nn.Linear(c["occ_emb"], A)
        self.fc = nn.Linear(4 * A, c["tower"])

    def forward(self, user, gender, age, occ):
        h = torch.cat([F.relu(self.id_fc(self.id_emb(user))),
                       F.relu(self.gender_fc(self.gender_emb(gender))),
                       F.relu(self.age_fc(self.age_emb(age))),
                       F.relu(self.occ_fc(self.occ_emb(occ)))], dim=1)
        return torch.tanh(self.fc(h))


class MovieTower(nn.Module):
    def __init__(self, c):
        super().__init__()
        A, NF, E = c["attr_fc"], c["conv_filters"], c["word_emb"]
        self.conv_min = c["conv_min"]
        self.id_emb = nn.Embedding(c["nmovies"], c["movie_emb"])
        self.genre_emb = nn.Embedding(c["ngenres"], c["genre_emb"])
        self.word_emb = nn.Embedding(c["nwords"], E)
        for k in range(self.conv_min, self.conv_min + 4):
            setattr(self, "conv%d" % k, nn.Conv1d(E, NF, k))
        self.id_fc = nn.Linear(c["movie_emb"], A)
        self.genre_fc = nn.Linear(c["genre_emb"], A)
        self.title_fc = nn.Linear(4 * NF, A)
        self.fc = nn.Linear(3 * A, c["tower"])
        self.dropout = nn.Dropout(c["title_dropout"])

    def forward(self, movie, genres, words):
        # genres: (B, 10) mean of the non-padding rows (-1 = padding)
        gm = (genres >= 0).unsqueeze(-1).float()
        ge = (self.genre_emb(genres.clamp(min=0)) * gm).sum(1) / gm.sum(1).clamp(min=1.0)
        # title: (B, 15) words, padding reads as a zero vector
        wm = (words >= 0).unsqueeze(-1).float()
        we = (self.word_emb(words.clamp(min=0)) * wm).transpose(1, 2)  # (B, E, 15)
        pooled = [F.relu(getattr(self, "conv%d" % k)(we)).amax(dim=2)
                  for k in range(self.conv_min, self.conv_min + 4)]
        title = self.dropout(torch.cat(pooled, dim=1))
        h = torch.cat([F.relu(self.id_fc(self.id_emb(movie))),
                       F.relu(self.genre_fc(ge)),
                       F.relu(self.title_fc(title))], dim=1)
        return torch.tanh(self.fc(h))


class Fusion(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1 = nn.Linear(2 * c["tower"], c["hidden1"])
        self.fc2 = nn.Linear(c["hidden1"], c["hidden2"])
        self.out = nn.Linear(c["hidden2"], 1)

    def forward(self, uvec, mvec):
        h = F.relu(self.fc1(torch.cat([uvec, mvec], dim=1)))
        return self.out(F.relu(self.fc2(h))).squeeze(1)


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = dict(c)
        self.user = UserTower(c)
        self.movie = MovieTower(c)
        self.fusion = Fusion(c)
        for mod in self.modules():  # Linear/Conv1d keep PyTorch's default
            if isinstance(mod, nn.Embedding):
                nn.init.normal_(mod.weight, 0.0, 0.1)

    def forward(self, user, gender, age, occ, movie, genres, words):
        return self.fusion(self.user(user, gender, age, occ), self.movie(movie, genres, words))


# the doc's table order: the order of the tensors in a safetensors file
PARAM_ORDER = (
    ["user.%s_emb.weight" % n for n in ("id", "gender", "age", "occ")]
    + ["user.%s_fc.%s" % (n, p) for n in ("id", "gender", "age", "occ") for p in ("weight", "bias")]
    + ["user.fc.weight", "user.fc.bias",
       "movie.id_emb.weight", "movie.genre_emb.weight", "movie.word_emb.weight"]
    + ["movie.conv%d.%s" % (k, p) for k in (2, 3, 4, 5) for p in ("weight", "bias")]
    + ["movie.%s_fc.%s" % (n, p) for n in ("id", "genre", "title") for p in ("weight", "bias")]
    + ["movie.fc.weight", "movie.fc.bias"]
    + ["fusion.%s.%s" % (n, p) for n in ("fc1", "fc2", "out") for p in ("weight", "bias")])


def write_safetensors(path, model, extra_meta=None):
    """Writes the model's parameters as a safetensors file, by hand: u64 LE
    header length, the JSON header padded with spaces to a multiple of 8,
    then the float32 LE data in PARAM_ORDER. __metadata__ carries format,
    version, config (a JSON string) and crc32 (of the data section)."""
    sd = model.state_dict()
    if sorted(sd) != sorted(PARAM_ORDER):
        raise ValueError("parameter names differ from docs/MODEL.md: %s"
                         % sorted(set(sd) ^ set(PARAM_ORDER)))
    if model.config.get("conv_min") != 2:
        raise ValueError("conv_min must be 2 for the doc's names")
    blobs, header, off = [], {}, 0
    for name in PARAM_ORDER:
        t = sd[name].detach().to(torch.float32).contiguous().cpu()
        b = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    data = b"".join(blobs)
    meta = {"format": "movierec", "version": "1",
            "config": json.dumps(model.config, separators=(",", ":")),
            "crc32": "%08x" % (zlib.crc32(data) & 0xFFFFFFFF)}
    if extra_meta:
        meta.update(extra_meta)
    h = json.dumps(dict({"__metadata__": meta}, **header), separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        f.write(data)


# --------------------------------------------------------------------------
# batches, scoring and metrics


def inputs(data, u, m):
    """Model inputs for user indexes u and movie indexes m (LongTensors)."""
    f = data.user_feat[u]
    return (f[:, 0], f[:, 1], f[:, 2], f[:, 3], m, data.movie_genres[m], data.movie_words[m])


def score(model, data, u, m, batch=1024):
    """Logits of the pairs (u[i], m[i]), eval mode, no grad; and the seconds."""
    model.eval()
    u, m = torch.from_numpy(np.asarray(u, np.int64)), torch.from_numpy(np.asarray(m, np.int64))
    out = np.empty(len(u), dtype=np.float32)
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(u), batch):
            out[s:s + batch] = model(*inputs(data, u[s:s + batch], m[s:s + batch])).numpy()
    return out, time.perf_counter() - t0


def logloss(logits, labels):
    x = logits.astype(np.float64)
    # -[y log s(x) + (1-y) log(1-s(x))] = softplus(x) - y x
    return float(np.mean(np.logaddexp(0.0, x) - labels * x))


def auc(scores, labels):
    """Mann-Whitney AUC with ties counted as one half."""
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    ranks = np.empty(len(s), dtype=np.float64)
    i = 0
    while i < len(s):  # average ranks over runs of equal scores
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2.0 + 1.0
        i = j + 1
    r = np.empty(len(s), dtype=np.float64)
    r[order] = ranks
    npos = float(labels.sum())
    nneg = len(labels) - npos
    if npos == 0 or nneg == 0:
        return float("nan")
    return float((r[labels == 1].sum() - npos * (npos + 1) / 2.0) / (npos * nneg))


# --------------------------------------------------------------------------
# labels and splits


def split_watch(data, rng):
    """Holds out each user's latest rating (max time, ties: larger movie id);
    users with one rating keep it. Returns train (u, m) and held-out (u, m)."""
    u, m, t = data.r_user, data.r_movie, data.r_time
    # movie index order is movie id order, so ties go to the larger index
    order = np.lexsort((m, t, u))  # by user, then time, then movie
    last = np.ones(len(order), dtype=bool)
    last[:-1] = u[order][1:] != u[order][:-1]
    first = np.ones(len(order), dtype=bool)
    first[1:] = u[order][1:] != u[order][:-1]
    held = order[last & ~first]  # the latest of users with >= 2 ratings
    mask = np.ones(len(u), dtype=bool)
    mask[held] = False
    return (u[mask], m[mask]), (u[held], m[held])


def sample_unrated(data, users, k, rng):
    """For each user, k movie indexes in 1..M the user has not rated."""
    out = np.empty((len(users), k), dtype=np.int64)
    todo = np.arange(len(users))
    cand = np.empty(0, dtype=np.int64)
    fill = np.zeros(len(users), dtype=np.int64)
    out_flat = out.reshape(-1)
    while len(todo):
        need = k - fill[todo]
        rep = np.repeat(todo, need)
        cand = rng.randint(1, data.nmovies, size=len(rep))
        ok = ~data.rated(users[rep], cand)
        rep, cand = rep[ok], cand[ok]
        # place the accepted draws after each row's filled part
        starts = np.searchsorted(rep, rep, side="left")
        slot = fill[rep] + (np.arange(len(rep)) - starts)
        out_flat[rep * k + slot] = cand
        np.add.at(fill, rep, 1)
        todo = todo[fill[todo] < k]
    return out


def sample_distinct_unrated(data, users, k, rng):
    """For each user, k distinct movie indexes the user has not rated."""
    out = np.empty((len(users), k), dtype=np.int64)
    for i, u in enumerate(users):
        got, seen = [], set()
        while len(got) < k:
            cand = rng.randint(1, data.nmovies, size=2 * k)
            ok = ~data.rated(np.full(len(cand), u), cand)
            for c in cand[ok]:
                if c not in seen:
                    seen.add(c)
                    got.append(c)
                    if len(got) == k:
                        break
        out[i] = got
    return out


# --------------------------------------------------------------------------
# training


def main():
    ap = argparse.ArgumentParser(description="PyTorch reference of movierec's deep model")
    ap.add_argument("--home", required=True)
    ap.add_argument("--label", choices=("watch", "like"), default="watch")
    ap.add_argument("--like-threshold", type=float, default=4.0)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--negatives", type=int, default=4)
    ap.add_argument("--id-dropout", type=float, default=0.02)
    ap.add_argument("--save", metavar="FILE", help="write the trained weights (safetensors)")
    args = ap.parse_args()
    if args.epochs < 1 or args.threads < 1 or args.batch < 1:
        ap.error("--epochs, --threads and --batch must be positive")

    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(args.seed)
    rng = np.random.RandomState(args.seed)

    data = Data(args.home)
    model = Model(data.config())
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    lossf = nn.BCEWithLogitsLoss()

    watch = args.label == "watch"
    if watch:
        (tu, tm), (vu, vm) = split_watch(data, rng)
        vneg = sample_distinct_unrated(data, vu, 100, rng)  # fixed for every epoch
        # the pairs scored in evaluation: each held-out positive then its 100 negatives
        eval_u = np.repeat(vu, 101)
        eval_m = np.concatenate([vm[:, None], vneg], axis=1).reshape(-1)
    else:
        n = len(data.r_user)
        perm = rng.permutation(n)
        nval = n // 10
        vmask = np.zeros(n, dtype=bool)
        vmask[perm[:nval]] = True
        y = (data.r_score >= args.like_threshold).astype(np.float32)
        tu, tm, ty = data.r_user[~vmask], data.r_movie[~vmask], y[~vmask]
        eval_u, eval_m, vy = data.r_user[vmask], data.r_movie[vmask], y[vmask]
    print("torch %s, %d threads; %d users, %d movies, %d occupations, %d genres, %d words;"
          " %d training %s, %d validation pairs"
          % (torch.__version__, torch.get_num_threads(), data.nusers - 1, data.nmovies - 1,
             data.noccs - 1, data.ngenres - 1, data.nwords - 1, len(tu),
             "positives" if watch else "ratings", len(eval_u) // (101 if watch else 1)),
          flush=True)

    def evaluate():
        logits, secs = score(model, data, eval_u, eval_m)
        if not watch:
            return dict(val_logloss=logloss(logits, vy), val_auc=auc(logits, vy),
                        hr10=None, ndcg10=None), len(logits) / secs
        s = logits.reshape(-1, 101)
        rank = (s[:, 1:] >= s[:, :1]).sum(axis=1)
        hit = rank < 10
        sub = s[:, :1 + args.negatives].reshape(-1)  # positive + first 4 negatives
        lab = np.tile(np.r_[1.0, np.zeros(args.negatives)], len(s))
        return dict(val_logloss=logloss(sub, lab), val_auc=auc(sub, lab),
                    hr10=float(hit.mean()),
                    ndcg10=float(np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0).mean())), \
            len(logits) / secs

    train_secs, samples = 0.0, 0
    metrics, pairs_per_s = {}, 0.0
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        if watch:
            neg = sample_unrated(data, tu, args.negatives, rng).reshape(-1)
            eu = np.concatenate([tu, np.repeat(tu, args.negatives)])
            em = np.concatenate([tm, neg])
            ey = np.concatenate([np.ones(len(tu), np.float32),
                                 np.zeros(len(neg), np.float32)])
        else:
            eu, em, ey = tu, tm, ty
        perm = rng.permutation(len(eu))
        eu = torch.from_numpy(eu[perm].astype(np.int64))
        em = torch.from_numpy(em[perm].astype(np.int64))
        ey = torch.from_numpy(ey[perm])
        total, nb = 0.0, 0
        for s in range(0, len(eu), args.batch):
            u, m, y = eu[s:s + args.batch], em[s:s + args.batch], ey[s:s + args.batch]
            x = list(inputs(data, u, m))
            if args.id_dropout > 0:  # the unknown rows learn the average user and movie
                x[0] = x[0].masked_fill(torch.rand(len(u)) < args.id_dropout, 0)
                x[4] = x[4].masked_fill(torch.rand(len(u)) < args.id_dropout, 0)
            loss = lossf(model(*x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
            nb += 1
        dt = time.perf_counter() - t0
        train_secs += dt
        samples += len(eu)
        metrics, pairs_per_s = evaluate()
        line = "epoch %d: train loss %.4f, %.0f samples/s (%.1f s); val logloss %.4f, AUC %.4f" % (
            epoch, total / max(nb, 1), len(eu) / dt, dt, metrics["val_logloss"], metrics["val_auc"])
        if watch:
            line += ", HR@10 %.4f, NDCG@10 %.4f" % (metrics["hr10"], metrics["ndcg10"])
        print(line + "; scoring %.0f pairs/s" % pairs_per_s, flush=True)

    if args.save:
        write_safetensors(args.save, model)
    out = dict(train_samples_per_s=samples / train_secs, score_pairs_per_s=pairs_per_s,
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    out.update(metrics)
    out["seconds"] = time.perf_counter() - t_start
    out.update(engine="torch", label=args.label, epochs=args.epochs, threads=args.threads,
               seed=args.seed, samples=samples)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
