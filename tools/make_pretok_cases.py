#!/usr/bin/env python3
"""tools/make_pretok_cases.py — the reference splits of the GPT-2, Llama-3 and Qwen2
pre-tokenizer regexes (as tokenizer.json spells them) over llama.cpp's tokenizer test
inputs and a few more, computed with Python's `regex` module (python3-regex), written to
tests/tokenizer/pretok_cases.json: [{"pre": NAME, "text": TEXT, "pieces": [BYTES...]}].
tests/unit/pretok.c checks runtime/smelt_tok.h's hand-written matchers against them.

Usage: python3 tools/make_pretok_cases.py INP_FILE > tests/tokenizer/pretok_cases.json"""
import json
import sys

import regex

RES = {
    'gpt2': r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    'llama3': r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    'qwen2': r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
}

EXTRA = [
    "I'M HERE, YOU'LL SEE; they'Re 'd 'x", "  \n\n  x\r\n\r\n y", "12345678 ab12cd 3.14159", "tab\tsep\t\tend\t",
    "((nested)) !!! ... ?!x", "\u00e9t\u00e9 na\u00efve caf\u00e9 \u0915\u093f\u0924\u093e\u092c", "a\u3000b\u00a0c\u2003d", " \n \n",
    "x  ", "   ", "\u4f60\u597d\uff0c\u4e16\u754c\uff01123", "emoji \U0001F600\U0001F600 done", "'''s''",
]


def main():
    text = open(sys.argv[1], encoding='utf-8').read()
    inputs = text.split('\n__ggml_vocab_test__\n')
    if inputs and inputs[-1] == '':
        inputs.pop()
    cases = []
    for name, rx in RES.items():
        r = regex.compile(rx)
        for t in inputs + EXTRA:
            pieces = r.findall(t)
            assert ''.join(pieces) == t, (name, t)
            cases.append({'pre': name, 'text': t, 'pieces': [len(p.encode('utf-8')) for p in pieces]})
    json.dump(cases, sys.stdout, ensure_ascii=False, indent=0)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
