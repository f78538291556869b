/* tests/unit/pretok.c — runtime/smelt_tok.h's hand-written GPT-2, Llama-3 and Qwen2
 * pre-tokenizers against the splits of the real regexes (Python's regex module, over
 * llama.cpp's tokenizer inputs and more: tests/tokenizer/pretok_cases.json, made by
 * tools/make_pretok_cases.py). */
#include "../testutil.h"

#include <cjson/cJSON.h>

#include "runtime/smelt_tok.h"

int main(void) {
  size_t len;
  char *js = t_read_file(SMELT_SOURCE_DIR "/tests/tokenizer/pretok_cases.json", &len);
  CHECK(js != NULL, "cannot read pretok_cases.json");
  cJSON *all = js ? cJSON_Parse(js) : NULL;
  CHECK(cJSON_IsArray(all), "pretok_cases.json is not a JSON array");
  int ncase = 0, nok = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, all) {
    const char *pre = cJSON_GetObjectItem(c, "pre")->valuestring, *text = cJSON_GetObjectItem(c, "text")->valuestring;
    int st = !strcmp(pre, "gpt2") ? SMELT_ST_GPT2 : !strcmp(pre, "llama3") ? SMELT_ST_LLAMA3 : SMELT_ST_QWEN2;
    const uint8_t *s = (const uint8_t *)text;
    int n = (int)strlen(text), p = 0, k = 0, ok = 1;
    const cJSON *pieces = cJSON_GetObjectItem(c, "pieces"), *want;
    cJSON_ArrayForEach(want, pieces) {
      int e = p < n ? smelt_tok_stage(st, s, p, n) : p;
      if (e - p != want->valueint) { ok = 0; break; }
      p = e;
      k++;
    }
    ok = ok && p == n;
    ncase++;
    nok += ok;
    CHECK(ok, "%s: '%s': piece %d (at byte %d) differs from the regex", pre, text, k, p);
  }
  printf("%d of %d pre-tokenizer splits match the regexes\n", nok, ncase);
  cJSON_Delete(all);
  free(js);
  return t_done("unit_pretok");
}
