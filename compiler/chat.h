/* compiler/chat.h — which chat format (runtime/smelt_chat.h) a checkpoint's Jinja
 * chat_template is.  Recognition is by the markers the families' published templates
 * use; a template of another family is reported as unsupported (-1), never guessed. */
#ifndef SMELT_CHAT_H_COMPILER
#define SMELT_CHAT_H_COMPILER

#include "ir/ir.h"

/* SMELT_CHAT_* of the template, or -1 when smelt does not know its family. */
int smelt_chat_kind(const char *template_text);
const char *smelt_chat_kind_name(int kind);
/* The system text a ChatML template inserts when the conversation has none (Qwen's
 * "You are a helpful assistant."), as an arena string, or NULL. */
char *smelt_chat_default_system(smelt_ctx *cx, const char *template_text);

#endif
