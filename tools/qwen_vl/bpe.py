"""Byte-level BPE of Qwen2's structure: the GPT-2 byte alphabet, Qwen2's pre-tokenizer regex, NFC, added tokens.

Shared by make_tiny_checkpoints.py (which trains the tiny vocabulary) and reference.py (which encodes with it), so both
see one definition of the alphabet and the split.
"""
import collections
import unicodedata

import regex

# Qwen2's Split pre-tokenizer pattern, as it appears in its tokenizer.json (behavior Isolated).
QWEN2_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_SPLIT = regex.compile(QWEN2_SPLIT_PATTERN)


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character table; its order is the order of the first 256 vocab ids."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return list(zip(bs, [chr(c) for c in cs]))


BYTE_TABLE = bytes_to_unicode()
BYTE_TO_CHAR = dict(BYTE_TABLE)
CHAR_TO_BYTE = {c: b for b, c in BYTE_TABLE}


def split_isolated(text):
    """Split(pattern, Isolated): every match is a piece, and so is every stretch between matches."""
    pieces = []
    last = 0
    for m in _SPLIT.finditer(text):
        if m.start() > last:
            pieces.append(text[last:m.start()])
        if m.end() > m.start():
            pieces.append(m.group())
        last = m.end()
    if last < len(text):
        pieces.append(text[last:])
    return pieces


def to_byte_chars(piece):
    return "".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))


def pre_tokenize(text):
    """NFC, then the regex split, then each piece's UTF-8 bytes as byte-level characters."""
    return [to_byte_chars(p) for p in split_isolated(unicodedata.normalize("NFC", text))]


def train_merges(corpus_texts, max_merges, min_count=2):
    """Plain BPE training: repeatedly merge the most frequent adjacent pair (ties: the smallest pair)."""
    word_counts = collections.Counter()
    for text in corpus_texts:
        word_counts.update(pre_tokenize(text))
    words = [list(w) for w in word_counts]
    freqs = [word_counts[w] for w in word_counts]
    pair_counts = collections.Counter()
    pair_words = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_counts[(a, b)] += freqs[i]
            pair_words[(a, b)].add(i)
    merges = []
    while len(merges) < max_merges and pair_counts:
        top = max(pair_counts.values())
        if top < min_count:
            break
        best = min(p for p, c in pair_counts.items() if c == top)
        merges.append(best)
        merged = best[0] + best[1]
        for i in sorted(pair_words.pop(best, ())):
            w = words[i]
            for a, b in zip(w, w[1:]):
                pair_counts[(a, b)] -= freqs[i]
                if pair_counts[(a, b)] <= 0:
                    del pair_counts[(a, b)]
            out = []
            j = 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == best[0] and w[j + 1] == best[1]:
                    out.append(merged)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for a, b in zip(out, out[1:]):
                pair_counts[(a, b)] += freqs[i]
                pair_words[(a, b)].add(i)
        pair_counts.pop(best, None)
    return merges


class ByteLevelBpe:
    """Encoder for a tokenizer.json of this structure: added tokens first, then NFC + split + byte-level + merges."""

    def __init__(self, tokenizer_json):
        model = tokenizer_json["model"]
        self.vocab = model["vocab"]
        self.ranks = {}
        for rank, m in enumerate(model["merges"]):
            a, b = m.split(" ") if isinstance(m, str) else m
            self.ranks[(a, b)] = rank
        self.added = {t["content"]: t["id"] for t in tokenizer_json["added_tokens"]}
        alternatives = sorted(self.added, key=len, reverse=True)
        self.added_split = regex.compile("(" + "|".join(regex.escape(t) for t in alternatives) + ")") if alternatives else None
        self.cache = {}

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            ranked = [(self.ranks.get((a, b)), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            ranked = [(r, i) for r, i in ranked if r is not None]
            if not ranked:
                break
            rank, i = min(ranked)
            parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2:]
        ids = [self.vocab[p] for p in parts]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        ids = []
        segments = self.added_split.split(text) if self.added_split else [text]
        for seg in segments:
            if not seg:
                continue
            if seg in self.added:
                ids.append(self.added[seg])
                continue
            for word in pre_tokenize(seg):
                ids.extend(self.bpe(word))
        return ids
