/* classify.h - the sensitivity class of every field (issue 6, "classification").
 *
 * A field is an identifier type ("phone", "id_number") or a trait or property name
 * ("name", "birthday", "city"). Names are compared folded: case and the separators
 * '_', '-', '.', ' ' are ignored, so "firstName", "first_name" and "First-Name" are one
 * field. The built-in table below is overridden entry by entry by the `classification`
 * setting ("field:class,...", with "*" for every field not named); a field in neither
 * is internal.
 *
 * The class drives encryption at rest (core-sensitive always, sensitive if configured),
 * masking by role, logging (nothing above internal is ever logged) and export. */
#ifndef CUSTOS_PRIVACY_CLASSIFY_H
#define CUSTOS_PRIVACY_CLASSIFY_H

#include "core/common.h"
#include "core/err.h"

enum data_class {
    CLASS_PUBLIC,
    CLASS_INTERNAL,
    CLASS_SENSITIVE,
    CLASS_CORE_SENSITIVE,
};
#define CLASS_COUNT 4

/* "public", "internal", "sensitive", "core-sensitive". */
const char *data_class_name(enum data_class c);

/* Parses a class name (also "core_sensitive"); ERR_INVALID naming the text otherwise. */
int data_class_parse(const char *text, size_t len, enum data_class *out, struct err *e);

/* Checks a `classification` setting's text; ERR_INVALID with the entry at fault. */
int classify_check(const char *spec, struct err *e);

/* The class of a field under the `classification` setting in force (cfg). Thread-safe;
 * the setting is read once, on first use. An invalid setting (config load checks it)
 * leaves the built-in table alone. */
enum data_class privacy_class(const char *field);
enum data_class privacy_class_n(const char *field, size_t len);

/* The class under an explicit spec (for tests and `custos config`): spec may be NULL. */
enum data_class classify_with(const char *spec, const char *field, size_t len);

/* Calls fn for every field of the built-in table, in table order. */
void classify_each_default(void (*fn)(const char *field, enum data_class c, void *ctx), void *ctx);

#endif
