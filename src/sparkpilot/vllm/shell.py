"""A small POSIX-shell reader: enough of sh to find a vLLM launch in a script.

It splits text into simple commands (words with the line each starts on), following quotes,
backslash-newline continuations, comments and the operators `&&`, `||`, `|`, `;`, `&`.
Launch snippets are often pasted without their backslashes (or folded by YAML), so a line that
starts with `-`, `&&`, `||` or `|` continues the command above it: a shell would fail on such a
line, so this is what the author meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sparkpilot.errors import UsageError

OPERATORS = ("&&", "||", ";;", "|", ";", "&")
_REDIRECT = re.compile(r"^(\d*|&)(>>?|<)(&\d+|\S*)$")
_BARE_REDIRECTS = {">", ">>", "<", "1>", "2>", "1>>", "2>>", "&>"}
_FLAG_IN_COMMENT = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]+)")


@dataclass
class Word:
    text: str
    line: int
    quoted: bool = False      # any part was quoted (no word splitting on expansion)
    single: bool = False      # wholly single-quoted (no $ expansion)
    op: bool = False          # an operator token
    start: int = 0            # offsets in the text it was read from
    end: int = 0
    orig: str | None = None   # the word as written before $-expansion / placeholder filling


@dataclass
class Command:
    words: list[Word] = field(default_factory=list)
    sep: str = ""             # the operator that ended it ("" at end of line / text)

    @property
    def argv(self) -> list[str]:
        return [w.text for w in self.words]

    @property
    def first_line(self) -> int:
        return self.words[0].line if self.words else 0

    @property
    def last_line(self) -> int:
        return self.words[-1].line if self.words else 0


def tokenize(text: str, first_line: int = 1, notes: list[str] | None = None) -> list[Word]:
    """Words and operators; newlines outside quotes become Word("\\n", op=True).
    notes gets a line when a `#` comment in the middle of a command hides options after it."""
    out: list[Word] = []
    i, n, line = 0, len(text), first_line
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] == "\n":
            i += 2
            line += 1
            continue
        if c == "\n":
            out.append(Word("\n", line, op=True, start=i, end=i + 1))
            line += 1
            i += 1
            continue
        if c in " \t\r":
            i += 1
            continue
        if c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            comment = text[i:j]
            if notes is not None and out and not out[-1].op and out[-1].line == line:
                hidden = _FLAG_IN_COMMENT.findall(comment)
                if hidden:
                    notes.append(f"command line {line}: `#` starts a comment in the middle of the command, so the shell "
                                 f"ignores the rest of that line, including {', '.join(hidden[:4])}"
                                 + (" ..." if len(hidden) > 4 else "")
                                 + " (a YAML folded `>` block puts the whole command on one line)")
            i = j
            continue
        op = next((o for o in OPERATORS if text.startswith(o, i)), None)
        if op == "&" and text.startswith("&>", i):
            op = None
        if op:
            out.append(Word(op, line, op=True, start=i, end=i + len(op)))
            i += len(op)
            continue
        buf: list[str] = []
        start_line, quoted, all_single, start = line, False, True, i
        while i < n:
            c = text[i]
            if c in " \t\r\n" or (any(text.startswith(o, i) for o in OPERATORS)
                                    and not (c == "&" and (text.startswith("&>", i) or (buf and buf[-1] == ">")))):
                break
            if c == "\\":
                if i + 1 < n and text[i + 1] == "\n":
                    i += 2
                    line += 1
                    continue
                if i + 1 < n:
                    buf.append(text[i + 1])
                i += 2
                all_single = False
                continue
            if c == "'":
                j = text.find("'", i + 1)
                if j < 0:
                    raise UsageError(f"line {start_line}: unterminated single quote")
                single = text[i + 1:j]
                line += single.count("\n")
                buf.append(single)
                quoted = True
                i = j + 1
                continue
            if c == '"':
                j = i + 1
                part: list[str] = []
                while j < n and text[j] != '"':
                    if text[j] == "\\" and j + 1 < n and text[j + 1] in '"\\$`\n':
                        if text[j + 1] != "\n":
                            part.append(text[j + 1])
                        else:
                            line += 1
                        j += 2
                        continue
                    if text[j] == "\n":
                        line += 1
                    part.append(text[j])
                    j += 1
                if j >= n:
                    raise UsageError(f"line {start_line}: unterminated double quote")
                buf.append("".join(part))
                quoted = True
                all_single = False
                i = j + 1
                continue
            if c == "$" and text.startswith("$(", i):  # command substitution: keep it as text
                depth, j = 0, i + 1
                while j < n:
                    if text[j] == "(":
                        depth += 1
                    elif text[j] == ")":
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                buf.append(text[i:j + 1])
                all_single = False
                i = j + 1
                continue
            buf.append(c)
            all_single = False
            i += 1
        out.append(Word("".join(buf), start_line, quoted=quoted, single=quoted and all_single,
                        start=start, end=i))
    return out


def split_commands(text: str, first_line: int = 1, notes: list[str] | None = None) -> list[Command]:
    words = tokenize(text, first_line, notes)
    commands: list[Command] = []
    joined: list[int] = []
    cur = Command()
    k = 0
    while k < len(words):
        w = words[k]
        if w.op and w.text == "\n":
            # look past blank/comment lines: a line starting with '-' or an operator continues
            j = k
            while j < len(words) and words[j].op and words[j].text == "\n":
                j += 1
            nxt = words[j] if j < len(words) else None
            if cur.words and nxt is not None and (
                    (not nxt.op and nxt.text.startswith("-") and not nxt.quoted)
                    or (nxt.op and nxt.text in ("&&", "||", "|"))):
                joined.append(nxt.line)
                k = j
                continue
            if cur.words and cur.words[-1].op:
                k = j
                continue
            if cur.words:
                commands.append(cur)
            cur = Command()
            k = j
            continue
        if w.op:
            if cur.words:
                cur.sep = w.text
                commands.append(cur)
            cur = Command()
            k += 1
            continue
        if not w.quoted and _REDIRECT.match(w.text):
            # `> file`, `2> file`, `2>&1`, `>>log`: redirections are not arguments
            k += 2 if w.text in _BARE_REDIRECTS and k + 1 < len(words) and not words[k + 1].op else 1
            continue
        cur.words.append(w)
        k += 1
    if cur.words:
        commands.append(cur)
    if joined and notes is not None:
        where = f"command line {joined[0]}" if len(joined) == 1 else f"command lines {joined[0]}-{joined[-1]}"
        notes.append(f"{where} start with `-` or `&&` but the line before has no trailing `\\`: a shell runs each as "
                     "a new command (a YAML folded `>` block keeps the newline before a more-indented line); read "
                     "here as one command, as meant")
    return commands


_VAR = re.compile(r"\$(?:\{(\w+)(?:(:?[-=])([^}]*))?\}|(\w+))")


def expand(value: str, env: dict[str, str]) -> str:
    """Expand $VAR, ${VAR} and ${VAR:-default} from env; unknown variables stay as written."""
    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(4)
        if name in env:
            val = env[name]
            if m.group(2) and m.group(2).startswith(":") and val == "":
                return m.group(3) or ""
            return val
        if m.group(2) and m.group(2)[-1] in "-=":
            return m.group(3) or ""
        return m.group(0)
    return _VAR.sub(sub, value) if "$" in value else value


def expand_words(words: list[Word], env: dict[str, str]) -> list[Word]:
    """$-expansion with word splitting of unquoted expansions (e.g. $EXTRA_ARGS)."""
    out: list[Word] = []
    for w in words:
        if w.single or "$" not in w.text:
            out.append(w)
            continue
        val = expand(w.text, env)
        if not w.quoted and val != w.text and re.fullmatch(r"\$\{?\w+\}?", w.text) \
                and "$(" not in val and "`" not in val:   # a command's output is unknown: one word
            parts = val.split()
            out.extend(Word(p, w.line, start=w.start, end=w.end) for p in parts)
            continue
        out.append(Word(val, w.line, quoted=w.quoted, start=w.start, end=w.end,
                        orig=w.orig if w.orig is not None else w.text))
    return out


ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)

_SAFE = re.compile(r"^[\w@%+=:,./{}\[\]-]+$")


def quote(word: str) -> str:
    """Quote one word for a shell, leaving $VAR references and {placeholders} readable."""
    if word and _SAFE.match(word):
        return word
    if word.startswith("~/") and _SAFE.match(word[2:]):
        return word                     # quoting would stop the shell expanding ~ (a run_cluster.sh cache path)
    if "$" in word and "'" not in word and '"' not in word and "`" not in word:
        return f'"{word}"'
    return "'" + word.replace("'", "'\"'\"'") + "'"


def render(argv: list[str], indent: str = "  ", per_line: bool = True) -> str:
    """A command as a shell line; with per_line, one option (and its value) per line."""
    if not per_line:
        return " ".join(quote(a) for a in argv)
    lines: list[list[str]] = [[]]
    prev = ""
    for a in argv:
        if a.startswith("-") and lines[-1] and prev.rsplit("/", 1)[-1] not in ("bash", "sh"):
            lines.append([])
        lines[-1].append(quote(a))
        prev = a
    return (" \\\n" + indent).join(" ".join(p) for p in lines)
