/* compiler/embed.h — the runtime sources embedded in the smelt binary at build time
 * (cmake/embed.cmake), written next to every generated model. */
#ifndef SMELT_EMBED_H
#define SMELT_EMBED_H
struct smelt_embedded { const char *name, *text; };
extern const struct smelt_embedded smelt_runtime_files[]; /* ends with {0, 0} */
#endif
