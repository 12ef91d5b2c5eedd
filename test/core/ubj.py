"""A small UBJSON codec for the model-check tests (XGBoost 1.7's dialect).

decode() keeps typed, counted arrays ("[$l#..") as TypedArray so encode()
writes them back in the same form; everything else maps to dict, list,
str, int, float, bool and None. Only what XGBoost writes is supported.
"""
import struct

_FMT = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q", b"d": ">f", b"D": ">d"}


class TypedArray(list):
    def __init__(self, marker, items):
        super().__init__(items)
        self.marker = marker


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def scalar(self, marker):
        if marker in _FMT:
            fmt = _FMT[marker]
            return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
        if marker == b"T":
            return True
        if marker == b"F":
            return False
        if marker == b"Z":
            return None
        if marker == b"S":
            return self.take(self.count()).decode()
        if marker == b"[":
            return self.container(False)
        if marker == b"{":
            return self.container(True)
        raise ValueError("unknown marker %r at %d" % (marker, self.pos - 1))

    def count(self):
        return self.scalar(self.take(1))

    def key(self):
        return self.take(self.count()).decode()

    def container(self, obj):
        typ = None
        if self.data[self.pos:self.pos + 1] == b"$":
            self.pos += 1
            typ = self.take(1)
        if self.data[self.pos:self.pos + 1] == b"#":
            self.pos += 1
            n = self.count()
            if obj:
                return {self.key(): self.scalar(typ or self.take(1)) for _ in range(n)}
            items = [self.scalar(typ or self.take(1)) for _ in range(n)]
            return TypedArray(typ, items) if typ else items
        out = {} if obj else []
        close = b"}" if obj else b"]"
        while self.data[self.pos:self.pos + 1] != close:
            if obj:
                k = self.key()
                out[k] = self.scalar(self.take(1))
            else:
                out.append(self.scalar(self.take(1)))
        self.pos += 1
        return out


def decode(data):
    r = _Reader(bytes(data))
    v = r.scalar(r.take(1))
    if r.pos != len(data):
        raise ValueError("trailing bytes")
    return v


def _int(n):
    # The same choice as XGBoost 1.7's writer (open bounds on purpose).
    for marker, fmt, bits in ((b"i", ">b", 8), (b"I", ">h", 16), (b"l", ">i", 32)):
        if -2**(bits - 1) < n < 2**(bits - 1) - 1:
            return marker + struct.pack(fmt, n)
    return b"L" + struct.pack(">q", n)


def _len(n):
    # XGBoost writes every length and count as int64.
    return b"L" + struct.pack(">q", n)


def _str(s):
    b = s.encode()
    return _len(len(b)) + b


def encode(v):
    if isinstance(v, TypedArray):
        fmt = _FMT.get(v.marker)
        if not fmt:
            raise ValueError("typed array of %r" % v.marker)
        body = b"".join(struct.pack(fmt, x) for x in v)
        return b"[$" + v.marker + b"#" + _len(len(v)) + body
    if isinstance(v, dict):
        return b"{" + b"".join(_str(k) + encode(x) for k, x in v.items()) + b"}"
    if isinstance(v, list):
        return b"[#" + _len(len(v)) + b"".join(encode(x) for x in v)
    if isinstance(v, bool):
        return b"T" if v else b"F"
    if v is None:
        return b"Z"
    if isinstance(v, int):
        return _int(v)
    if isinstance(v, float):
        return b"d" + struct.pack(">f", v)
    if isinstance(v, str):
        return b"S" + _str(v)
    raise TypeError(type(v))
