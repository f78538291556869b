#!/usr/bin/env python3
"""tools/render_chat_templates.py — renders each tests/chat/NAME.jinja (published chat
templates) the way Hugging Face's apply_chat_template does (jinja2, trim_blocks and
lstrip_blocks, raise_exception, add_generation_prompt) for one user turn, with and
without a system message, into NAME.sys.expected and NAME.nosys.expected: the
reference tests/unit/chat.c checks smelt_chat_format against.  bos_token is empty
(smelt's prompt text leaves BOS to the tokenizer's add_bos); eos_token is </s>.
A template that raises writes "!error <message>".

Usage: python3 tools/render_chat_templates.py tests/chat   (needs python3-jinja2)"""
import glob
import os
import sys

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

SYSTEM = 'You are a terse assistant.'
USER = '  Hello, who are you?\n'


def raise_exception(msg):
    raise jinja2.exceptions.TemplateError(msg)


def render(src, with_system):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals['raise_exception'] = raise_exception
    msgs = ([{'role': 'system', 'content': SYSTEM}] if with_system else []) + [{'role': 'user', 'content': USER}]
    try:
        return env.from_string(src).render(messages=msgs, bos_token='', eos_token='</s>', add_generation_prompt=True)
    except jinja2.exceptions.TemplateError as e:
        return '!error %s' % e


def main(d):
    for path in sorted(glob.glob(os.path.join(d, '*.jinja'))):
        src = open(path, encoding='utf-8').read()
        base = path[:-len('.jinja')]
        for tag, ws in (('sys', True), ('nosys', False)):
            with open('%s.%s.expected' % (base, tag), 'w', encoding='utf-8', newline='') as f:
                f.write(render(src, ws))


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'tests/chat')
