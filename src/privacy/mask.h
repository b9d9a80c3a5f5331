/* mask.h - the masks people recognise, one per kind of field (issue 6, "masking").
 *
 * A mask keeps what a person needs to recognise a value and hides the rest:
 *   phone        138****5678 (+86 numbers shown national); +44*******1234 elsewhere
 *   email        z***@qq.com (first character of the local part, the whole domain)
 *   name         王* / 王** / 欧阳* (first character, or a compound surname, then one '*'
 *                per hidden character); J*** S**** (each word's first letter)
 *   id_number    1101**********123X (first 4 and last 4)
 *   bank card    ************1234 (last 4)
 *   address      北京市朝阳区*** (up to and with the first 市, else 省/自治区/区/县);
 *                ***, London (Latin: the part after the last comma)
 *   birth date   1990-**-** (the year)
 *   default      z***, or ab****yz for values of 8 characters or more
 * Masks count code points, not bytes: a mask of valid UTF-8 is valid UTF-8. Invalid
 * UTF-8 is masked whole ("***"). Which mask a field gets comes from its folded name
 * (case and '_', '-', '.', ' ' ignored, as in classify.h). */
#ifndef CUSTOS_PRIVACY_MASK_H
#define CUSTOS_PRIVACY_MASK_H

#include "core/common.h"

enum mask_kind {
    MASK_DEFAULT,
    MASK_PHONE,
    MASK_EMAIL,
    MASK_NAME,
    MASK_ID_NUMBER,
    MASK_CARD,
    MASK_ADDRESS,
    MASK_BIRTH_DATE,
};

#define MASK_MAX_INPUT 4096 /* longer values are masked whole: "***" */

/* The mask for a field (an identifier type or trait name), MASK_DEFAULT when none. */
enum mask_kind mask_kind_of(const char *field, size_t len);

/* The masked form of v[0..n) under kind, malloc'd and NUL-terminated (caller frees);
 * NULL when out of memory. */
char *mask_value(enum mask_kind kind, const char *v, size_t n);

/* mask_value(mask_kind_of(field), value): the mask for that field. */
char *mask_field(const char *field, const char *value);

#endif
