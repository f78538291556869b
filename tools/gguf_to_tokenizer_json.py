#!/usr/bin/env python3
"""tools/gguf_to_tokenizer_json.py — writes a Hugging Face tokenizer.json and
tokenizer_config.json equivalent to a GGUF file's vocabulary, as Hugging Face's own
converters shape them, so the tokenizer.json path of smelt can be tested on the same
golden cases as the GGUF path (tests/tokenizer/golden.c --json).

  SentencePiece ("llama")  BPE with byte_fallback, the Prepend/Replace normalizer and
                           merges extracted from the scores (transformers'
                           SentencePieceExtractor: every split of a piece into two
                           pieces, ordered by the piece's score)
  byte-level BPE ("gpt2")  BPE with the ByteLevel pre-tokenizer, or the Sequence that
                           tokenizer.ggml.pre names (starcoder, falcon, llama-bpe, qwen2)
  WordPiece ("bert")       "\u2581x" -> "x", other pieces -> "##x", BertNormalizer

Usage: gguf_to_tokenizer_json.py VOCAB.gguf OUTDIR    (pure Python, no packages)"""
import json
import os
import struct
import sys

SP = '\u2581'


def read_gguf(path):
    d = open(path, 'rb').read()
    p = 0

    def take(fmt):
        nonlocal p
        v = struct.unpack_from('<' + fmt, d, p)[0]
        p += struct.calcsize(fmt)
        return v

    def string():
        nonlocal p
        n = take('Q')
        v = d[p:p + n]
        p += n
        return v

    fmts = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}

    def value(t):
        if t in fmts:
            return take(fmts[t])
        if t == 8:
            return string()
        if t == 9:
            et = take('I')
            n = take('Q')
            return [value(et) for _ in range(n)]
        raise ValueError('bad GGUF value type %d' % t)

    if d[:4] != b'GGUF':
        raise ValueError('%s: not a GGUF file' % path)
    p = 4
    take('I')
    take('Q')
    nkv = take('Q')
    kv = {}
    for _ in range(nkv):
        k = string().decode()
        kv[k] = value(take('I'))
    return kv


def added(i, text, special, rstrip=False):
    return {'id': i, 'content': text, 'single_word': False, 'lstrip': False, 'rstrip': rstrip,
            'normalized': False, 'special': special}


def convert(path, out):
    kv = read_gguf(path)
    model = kv['tokenizer.ggml.model'].decode()
    toks = [t.decode('utf-8') for t in kv['tokenizer.ggml.tokens']]
    types = kv.get('tokenizer.ggml.token_type', [1] * len(toks))
    name = kv.get('general.name', b'').decode().lower()
    def tid(key):
        v = kv.get('tokenizer.ggml.' + key)
        return toks[v] if v is not None and 0 <= v < len(toks) else None
    cfg = {}
    tj = {'version': '1.0', 'truncation': None, 'padding': None}
    if model == 'llama':
        scores = kv['tokenizer.ggml.scores']
        vocab = {t: i for i, t in enumerate(toks)}
        merges = []
        for i, t in enumerate(toks):
            if types[i] != 1:
                continue
            local = [(t[:k], t[k:], scores[i]) for k in range(1, len(t)) if t[:k] in vocab and t[k:] in vocab]
            local.sort(key=lambda x: (vocab[x[0]], vocab[x[1]]))
            merges.extend(local)
        merges.sort(key=lambda x: x[2], reverse=True)
        phi3 = 'phi-3' in name or 'phi3' in name
        tj['added_tokens'] = [added(i, t, types[i] in (2, 3),
                                    phi3 and (t == '</s>' or (types[i] in (2, 3, 4) and t not in ('<unk>', '<s>', '<|endoftext|>'))))
                              for i, t in enumerate(toks) if types[i] in (2, 3, 4)]
        tj['normalizer'] = {'type': 'Sequence', 'normalizers': [
            {'type': 'Prepend', 'prepend': SP}, {'type': 'Replace', 'pattern': {'String': ' '}, 'content': SP}]}
        tj['pre_tokenizer'] = None
        tj['post_processor'] = None
        tj['decoder'] = {'type': 'Sequence', 'decoders': [
            {'type': 'Replace', 'pattern': {'String': SP}, 'content': ' '}, {'type': 'ByteFallback'}, {'type': 'Fuse'},
            {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]}
        tj['model'] = {'type': 'BPE', 'dropout': None, 'unk_token': tid('unknown_token_id') or '<unk>',
                       'continuing_subword_prefix': None, 'end_of_word_suffix': None, 'fuse_unk': True,
                       'byte_fallback': True, 'ignore_merges': False, 'vocab': vocab,
                       'merges': ['%s %s' % (a, b) for a, b, _ in merges]}
        cfg = {'add_bos_token': bool(kv.get('tokenizer.ggml.add_bos_token', True)),
               'add_eos_token': bool(kv.get('tokenizer.ggml.add_eos_token', False)),
               'bos_token': tid('bos_token_id'), 'eos_token': tid('eos_token_id'), 'unk_token': tid('unknown_token_id')}
    elif model == 'gpt2':
        pre = kv.get('tokenizer.ggml.pre', b'gpt-2').decode()
        bl = {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True}
        if pre == 'starcoder':
            pt = {'type': 'Sequence', 'pretokenizers': [{'type': 'Digits', 'individual_digits': True}, bl]}
        elif pre == 'falcon':
            pt = {'type': 'Sequence', 'pretokenizers': [
                {'type': 'Punctuation', 'behavior': 'Contiguous'}, bl, {'type': 'Digits', 'individual_digits': False},
                {'type': 'Split', 'pattern': {'Regex': '[0-9][0-9][0-9]'}, 'behavior': 'Isolated', 'invert': False}]}
        elif pre == 'gpt-2':
            pt = bl
        else:
            raise SystemExit('%s: pre-tokenizer %s: not converted by this script' % (path, pre))
        tj['added_tokens'] = [added(i, t, types[i] == 3) for i, t in enumerate(toks) if types[i] in (3, 4)]
        tj['normalizer'] = None
        tj['pre_tokenizer'] = pt
        tj['post_processor'] = dict(bl)
        tj['decoder'] = dict(bl)
        tj['model'] = {'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': '',
                       'end_of_word_suffix': '', 'fuse_unk': False, 'byte_fallback': False, 'ignore_merges': False,
                       'vocab': {t: i for i, t in enumerate(toks)},
                       'merges': [m.decode('utf-8') for m in kv['tokenizer.ggml.merges']]}
        cfg = {'add_bos_token': False, 'bos_token': tid('bos_token_id'), 'eos_token': tid('eos_token_id')}
    elif model == 'bert':
        vocab = {}
        for i, t in enumerate(toks):
            w = t if types[i] != 1 else t[1:] if t.startswith(SP) else '##' + t
            vocab[w] = i
        cls, sep = tid('cls_token_id') or '[CLS]', tid('seperator_token_id') or '[SEP]'
        tj['added_tokens'] = [added(i, t, True) for i, t in enumerate(toks) if types[i] == 3]
        tj['normalizer'] = {'type': 'BertNormalizer', 'clean_text': True, 'handle_chinese_chars': True,
                            'strip_accents': None, 'lowercase': True}
        tj['pre_tokenizer'] = {'type': 'BertPreTokenizer'}
        tj['post_processor'] = {'type': 'TemplateProcessing',
                                'single': [{'SpecialToken': {'id': cls, 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}},
                                           {'SpecialToken': {'id': sep, 'type_id': 0}}],
                                'pair': [], 'special_tokens': {}}
        tj['decoder'] = {'type': 'WordPiece', 'prefix': '##', 'cleanup': True}
        tj['model'] = {'type': 'WordPiece', 'unk_token': tid('unknown_token_id') or '[UNK]',
                       'continuing_subword_prefix': '##', 'max_input_chars_per_word': 100, 'vocab': vocab}
        cfg = {'do_lower_case': True, 'cls_token': cls, 'sep_token': sep, 'unk_token': tid('unknown_token_id'),
               'pad_token': tid('padding_token_id'), 'mask_token': tid('mask_token_id')}
    else:
        raise SystemExit('%s: tokenizer model %s: not converted by this script' % (path, model))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(tj, f, ensure_ascii=False, indent=None)
    with open(os.path.join(out, 'tokenizer_config.json'), 'w', encoding='utf-8') as f:
        json.dump({k: v for k, v in cfg.items() if v is not None}, f, ensure_ascii=False, indent=2)


if __name__ == '__main__':
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    convert(sys.argv[1], sys.argv[2])
