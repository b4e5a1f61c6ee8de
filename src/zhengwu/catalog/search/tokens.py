"""Chinese text for search: normalisation, jieba segmentation, index terms, query parsing, highlighting.

Index and query go through the same segmenter, so a word is found when both sides cut it alike. Where
they may not (a query word that jieba splits differently inside a longer name), names are also indexed
by their character bigrams and single characters, and a query word may match through those.

jieba keeps its dictionary inside the wheel. Its ``initialize()`` would write a marshal cache into the
system temp directory (and read one back from there, a shared place anybody can write to); this module
builds the prefix dictionary in memory instead, once per process, so nothing is written at run time.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import jieba
from markupsafe import Markup, escape
from pypinyin import Style, lazy_pinyin

MAX_QUERY_CHARS = 100
MAX_QUERY_WORDS = 8
MAX_TERM_CHARS = 64

# Field weights, best first; stored per term as the best field the term occurs in.
W_NAME, W_META, W_SUMMARY, W_ELEMENT = 1, 2, 3, 4

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_RUN_RE = re.compile(rf"[{_CJK}]+|[a-z0-9_]+")
_CJK_RE = re.compile(rf"^[{_CJK}]+$")
_SPACE_RE = re.compile(r"\s+")
_OPERATOR_RE = re.compile(r"(?<![A-Za-z0-9_])(?:AND|OR|NOT|NEAR)(?![A-Za-z0-9_])")

# Function words that carry no meaning on their own in a query or a long text.
STOP_CHARS = frozenset("的和与及或等之了在是对为以其并由于于中")

# Words of government data that jieba's general dictionary cuts badly or not at all.
DOMAIN_WORDS = (
    "社保", "医保", "个税", "低保", "特困", "公积金", "住房公积金", "不动产", "不动产登记", "户籍",
    "户籍人口", "常住人口", "流动人口", "身份证", "身份证号", "居民身份证", "公民身份号码", "营业执照",
    "统一社会信用代码", "法定代表人", "电子证照", "出生医学证明", "死亡医学证明", "婚姻登记", "收养登记",
    "残疾人", "退役军人", "网约车", "行政许可", "行政处罚", "双随机", "信用修复", "失信被执行人",
    "食品经营许可", "药品经营许可", "排污许可", "建设工程", "规划许可", "施工许可", "竣工验收",
    "养老保险", "失业保险", "工伤保险", "生育保险", "医疗保险", "城乡居民", "城镇职工", "参保",
    "缴费基数", "社会救助", "最低生活保障", "学籍", "学位", "职业资格", "专利", "商标", "地理信息",
    "宅基地", "承包地", "林权", "水权", "碳排放", "安全生产", "危险化学品", "特种设备", "机动车",
    "驾驶证", "行驶证", "违法记录", "出入境", "护照", "港澳通行证", "税务登记", "发票", "纳税信用",
)  # fmt: skip


class _Segmenter:
    """A jieba tokenizer of its own, loaded on first use without jieba's temp-directory cache."""

    def __init__(self) -> None:
        self._tokenizer = jieba.Tokenizer()
        self._lock = threading.Lock()
        self._loaded = False

    def get(self) -> jieba.Tokenizer:
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    tk = self._tokenizer
                    tk.FREQ, tk.total = tk.gen_pfdict(tk.get_dict_file())
                    tk.initialized = True  # tells jieba not to initialize() (and cache) on its own
                    for word in DOMAIN_WORDS:
                        tk.add_word(word, freq=max(tk.FREQ.get(word, 0), 20_000))
                    self._loaded = True
        return self._tokenizer


_SEGMENTER = _Segmenter()


def segmenter() -> jieba.Tokenizer:
    """The shared tokenizer (loads the dictionary, about a second, on first call)."""
    return _SEGMENTER.get()


def _printable(text: str) -> str:
    # Control and format characters (NUL, zero-width joiners, bidi marks) become spaces: PostgreSQL
    # refuses NUL in text, and invisible characters would make two equal-looking names differ.
    if text.isprintable():
        return text
    return "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)


def normalize(text: str) -> str:
    """NFKC (full-width letters, digits and spaces become ASCII) and lower case, spaces collapsed."""
    return _SPACE_RE.sub(" ", _printable(unicodedata.normalize("NFKC", text)).lower()).strip()


def name_key(text: str) -> str:
    """What exact and prefix name matches compare: normalised, without any whitespace."""
    return normalize(text).replace(" ", "")


def runs(text: str) -> list[str]:
    """Maximal runs of Chinese characters or of ASCII letters/digits/underscores in normalised text."""
    return _RUN_RE.findall(normalize(text))


def is_cjk(run: str) -> bool:
    return bool(_CJK_RE.match(run))


@lru_cache(maxsize=200_000)
def _search_tokens(run: str) -> tuple[str, ...]:
    # Element names and summaries repeat across thousands of resources: cut each distinct run once.
    return tuple(t for t in segmenter().cut_for_search(run) if t.strip())


@lru_cache(maxsize=50_000)
def _precise_tokens(run: str) -> tuple[str, ...]:
    return tuple(t for t in segmenter().cut(run) if t.strip())


@lru_cache(maxsize=50_000)
def _initials(token: str) -> str:
    return "".join(p[:1] for p in lazy_pinyin(token, style=Style.FIRST_LETTER) if p[:1].isalpha())


def _ascii_terms(run: str) -> list[str]:
    run = run.strip("_")[:MAX_TERM_CHARS]
    if not run:
        return []
    out = [run]
    if "_" in run:
        out += [p for p in run.split("_") if p]
    return out


def _bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def text_terms(text: str, *, grams: bool = False, stop: bool = True) -> set[str]:
    """Index terms of a text: jieba search-mode tokens, ASCII words and their ``_`` parts.

    ``grams`` adds every character bigram and single character of Chinese runs (used for names, so
    that any part of a name can be found); ``stop`` drops single-character function words.
    """
    terms: set[str] = set()
    for run in runs(text):
        if is_cjk(run):
            for token in _search_tokens(run):
                if not (stop and len(token) == 1 and token in STOP_CHARS):
                    terms.add(token[:MAX_TERM_CHARS])
            if grams:
                terms.update(_bigrams(run))
                terms.update(run)
        else:
            terms.update(_ascii_terms(run))
    return terms


@lru_cache(maxsize=100_000)
def short_text_terms(text: str) -> frozenset[str]:
    """:func:`text_terms` of a short text that recurs across resources (element names, departments)."""
    return frozenset(text_terms(text))


def pinyin_terms(text: str) -> set[str]:
    """Pinyin initials of a name from the start of each of its words onwards.

    户籍人口信息 gives hjrkxx, rkxx and xx, so that typing the initials of any part of a name finds it.
    Initials come from whole words (pypinyin reads polyphones in context: 重庆 cq, 银行 yh).
    """
    out: set[str] = set()
    for run in runs(text):
        if not is_cjk(run):
            continue
        letters = "".join(
            _initials(t) if len(_initials(t)) == len(t) else "?" * len(t) for t in _precise_tokens(run)
        )
        starts = {0}
        pos = 0
        for token in _precise_tokens(run):
            for sub in _search_tokens(token):
                if len(sub) > 1:
                    starts.add(pos + token.find(sub))
            pos += len(token)
        for start in starts:
            tail = letters[start:].split("?")[0][:32]
            if len(tail) >= 2:
                out.add(tail)
    return out


@dataclass(frozen=True)
class DocumentText:
    """The searchable text of one resource, by field."""

    name: str
    meta: list[str]
    summary: str
    elements: list[tuple[str, str]]


def document_terms(doc: DocumentText) -> dict[str, int]:
    """Every index term of a resource with the best (lowest) field weight it occurs in."""
    out: dict[str, int] = {}

    def add(terms: Iterable[str], weight: int) -> None:
        for term in terms:
            if term and (term not in out or out[term] > weight):
                out[term] = weight

    add(text_terms(doc.name, grams=True, stop=False), W_NAME)
    add(pinyin_terms(doc.name), W_META)
    for value in doc.meta:
        add(short_text_terms(value), W_META)
        whole = name_key(value)
        if whole and len(whole) <= MAX_TERM_CHARS and _RUN_RE.fullmatch(whole):
            add([whole], W_META)
    add(text_terms(doc.summary), W_SUMMARY)
    for name, name_en in doc.elements:
        add(short_text_terms(name), W_ELEMENT)
        add(short_text_terms(name_en), W_ELEMENT)
    return out


# --- Queries -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One term of a query; ``prefix`` matches every index term that starts with it."""

    text: str
    prefix: bool = False


# A query is an AND of words; a word is a list of alternative spellings (see _cjk_word), each an AND
# of terms.
Alternative = tuple[Term, ...]
Word = tuple[Alternative, ...]


@dataclass(frozen=True)
class ParsedQuery:
    """A normalised query: its words (each to be found somewhere in an entry) and what to highlight."""

    text: str
    key: str
    words: tuple[Word, ...]
    highlights: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.words


def _finer(token: str) -> tuple[str, ...]:
    # A long dictionary word (企业法人) also matches its dictionary parts (企业, 法人) where a text
    # writes them apart; keep the word itself where its parts do not cover it.
    if len(token) <= 2:
        return (token,)
    freq = segmenter().FREQ
    parts: list[str] = []
    covered: set[int] = set()
    for i, gram in enumerate(_bigrams(token)):
        if freq.get(gram):
            parts.append(gram)
            covered.update((i, i + 1))
    return tuple(parts) if len(covered) == len(token) else (token,)


def _cjk_word(run: str) -> Word:
    if len(run) == 1:
        return ((Term(run),),)
    precise = [t for t in _precise_tokens(run) if not (len(t) == 1 and t in STOP_CHARS)]
    precise = precise or list(_precise_tokens(run))
    finer = [p for t in precise for p in _finer(t)]
    # In order of preference: the dictionary parts (every text that has the whole word has its parts
    # too, so they find a superset), the words themselves, then the name bigrams for a word jieba cuts
    # differently inside a longer name. A query uses the first whose terms all occur in the index.
    alternatives: list[Alternative] = [
        tuple(Term(t) for t in dict.fromkeys(finer)),
        tuple(Term(t) for t in dict.fromkeys(precise)),
        tuple(Term(t) for t in dict.fromkeys(_bigrams(run))),
    ]
    unique = list(dict.fromkeys(alternatives))
    return tuple(unique)


def parse_query(q: str) -> ParsedQuery:
    """Normalise and segment a query. Raises ValueError for a query over the length limits.

    Everything that is not a Chinese character, an ASCII letter, a digit or ``_`` separates words,
    so quotes, operators and SQL fragments are inert.
    """
    # Operators people carry over from other search engines are not words to look for; every word is
    # required anyway.
    text = normalize(_OPERATOR_RE.sub(" ", q))
    if len(text) > MAX_QUERY_CHARS:
        raise ValueError("query too long")
    words: list[Word] = []
    highlights: list[str] = []
    for run in dict.fromkeys(runs(text)):
        if is_cjk(run):
            word = _cjk_word(run)
            highlights.append(run)
            highlights += [t.text for alt in word[:2] for t in alt if len(t.text) > 1]
        else:
            terms = _ascii_terms(run)
            if not terms:
                continue
            word = ((Term(terms[0], prefix=len(terms[0]) >= 2),),)
            highlights.append(terms[0])
        words.append(word)
    if len(words) > MAX_QUERY_WORDS:
        raise ValueError("too many words")
    ordered = sorted(dict.fromkeys(h for h in highlights if h), key=len, reverse=True)
    return ParsedQuery(text=text, key=text.replace(" ", ""), words=tuple(words), highlights=tuple(ordered))


# --- Highlighting ------------------------------------------------------------------------------------


@lru_cache(maxsize=20_000)
def _normal_char(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).lower()


def _normalized_with_map(text: str) -> tuple[str, list[int] | range]:
    lowered = text.lower()
    if len(lowered) == len(text) and unicodedata.is_normalized("NFKC", text):
        return lowered, range(len(text))  # the common case: positions do not move
    # Chinese text with full-width punctuation (，：) is not NFKC: normalise character by character
    # (cached), and when every character stays one character positions still do not move.
    joined = "".join(map(_normal_char, text))
    if len(joined) == len(text):
        return joined, range(len(text))
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        for n in unicodedata.normalize("NFKC", ch).lower():
            chars.append(n)
            origin.append(i)
    return "".join(chars), origin


def match_spans(text: str, needles: Iterable[str]) -> list[tuple[int, int]]:
    """Non-overlapping spans of ``text`` (original positions) where any needle occurs, longest first."""
    norm, origin = _normalized_with_map(text)
    needles = [n for n in needles if n and n in norm]
    if not needles:
        return []
    taken = [False] * len(norm)
    spans: list[tuple[int, int]] = []
    for needle in sorted({n for n in needles if n}, key=len, reverse=True):
        start = norm.find(needle)
        while start != -1:
            end = start + len(needle)
            if not any(taken[start:end]):
                for i in range(start, end):
                    taken[i] = True
                spans.append((origin[start], origin[end - 1] + 1))
            start = norm.find(needle, start + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def highlight(text: str, needles: Iterable[str], *, limit: int | None = None) -> Markup:
    """``text`` HTML-escaped with every match wrapped in ``<mark>``; cut to a window of ``limit``
    characters around the first match when the text is longer."""
    spans = match_spans(text, needles)
    start, end = 0, len(text)
    if limit is not None and len(text) > limit:
        first = spans[0][0] if spans else 0
        start = max(0, min(first - limit // 4, len(text) - limit))
        end = start + limit
    out: list[str] = ["…" if start > 0 else ""]
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(str(escape(text[pos:s])))
        out.append("<mark>" + str(escape(text[s:e])) + "</mark>")
        pos = e
    out.append(str(escape(text[pos:end])))
    if end < len(text):
        out.append("…")
    return Markup("".join(out))  # noqa: S704 - every piece of text above went through escape()
