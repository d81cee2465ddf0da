"""A regex that finds any of many literal strings quickly: the literals as a trie of nested groups.

Written as a trie, an alternation shares its prefixes: the program RE2 (runtime/regex.py) builds stays
small for thousands of literals (SigmaHQ's largest, 196K characters, compiles), and Python's re, which the
fallback without RE2 runs, tries only the branches that share the next character (alternatives starting
with distinct characters are what that fallback accepts).

Example:
    >>> trie_regex(["abc", "abd", "b"])
    '(?:ab[cd]|b)'
"""

from __future__ import annotations

import re

END = ""
Trie = dict[str, "Trie"]  # character -> the rest (END marks a literal ending here)


def trie_regex(literals: list[str] | tuple[str, ...]) -> str:
    trie: Trie = {}
    for literal in sorted(set(literals)):
        node = trie
        for char in literal:
            node = node.setdefault(char, {})
        node[END] = {}
    return _pattern(trie) or "(?:)"


def _pattern(node: Trie) -> str:
    optional = END in node
    branches = [re.escape(char) + _pattern(child) for char, child in sorted(node.items()) if char != END]
    if not branches:
        return ""
    singles = [b for b in branches if len(b) == 1 or (len(b) == 2 and b[0] == "\\")]
    if len(singles) == len(branches) and len(branches) > 1:
        body = "[" + "".join(singles) + "]"
    elif len(branches) == 1:
        body = branches[0]
    else:
        body = "(?:" + "|".join(branches) + ")"
    if optional:  # a literal ends here; longer ones go on: any of them is a match, so stop early
        return ""
    return body
