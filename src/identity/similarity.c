/* similarity.c - comparators of UTF-8 text for record linkage (match.h): decoding to
 * code points, Jaro and Jaro-Winkler, bounded Levenshtein, calendar dates, Soundex.
 *
 * Everything works on code points so that a Chinese character, an accented letter and
 * an ASCII letter each count as one. The comparators take lengths up to
 * MATCH_VALUE_MAX and keep their working rows on the stack: no allocation, no state. */
#include "core/text.h"
#include "identity/match.h"

/* ---- UTF-8 --------------------------------------------------------------------- */

int match_utf8_decode(const char *s, size_t n, uint32_t *cp, size_t cap, size_t *len)
{
    /* A string of code points, decoded by the project's one UTF-8 decoder. */
    size_t i = 0, k = 0;
    while (i < n) {
        uint32_t c;
        size_t step = text_utf8_decode(s + i, n - i, &c);
        if (step == 0)
            return ERR_INVALID; /* ill-formed, overlong, surrogate or truncated */
        if (k == cap)
            return ERR_LIMIT;
        cp[k++] = c;
        i += step;
    }
    *len = k;
    return 0;
}

/* ---- Jaro-Winkler -------------------------------------------------------------- */

static size_t cut(size_t n)
{
    return n > MATCH_VALUE_MAX ? MATCH_VALUE_MAX : n;
}

double match_jaro_cp(const uint32_t *a, size_t n, const uint32_t *b, size_t m)
{
    bool fa[MATCH_VALUE_MAX], fb[MATCH_VALUE_MAX];
    size_t matches = 0, half = 0, k = 0;

    n = cut(n);
    m = cut(m);
    if (n == 0 || m == 0)
        return n == m ? 1.0 : 0.0;
    memset(fa, 0, n);
    memset(fb, 0, m);

    /* Characters match when equal and no further apart than the window. */
    size_t longer = n > m ? n : m;
    size_t window = longer / 2 > 0 ? longer / 2 - 1 : 0;
    for (size_t i = 0; i < n; i++) {
        size_t lo = i > window ? i - window : 0;
        size_t hi = i + window + 1 < m ? i + window + 1 : m;
        for (size_t j = lo; j < hi; j++) {
            if (!fb[j] && a[i] == b[j]) {
                fa[i] = fb[j] = true;
                matches++;
                break;
            }
        }
    }
    if (matches == 0)
        return 0.0;

    /* Matched characters out of order, in pairs (integer halving, as in strcmp95). */
    for (size_t i = 0; i < n; i++) {
        if (!fa[i])
            continue;
        while (!fb[k])
            k++;
        if (a[i] != b[k])
            half++;
        k++;
    }
    size_t transpositions = half / 2;
    double t = (double)transpositions, c = (double)matches;
    return (c / (double)n + c / (double)m + (c - t) / c) / 3.0;
}

double match_jaro_winkler_cp(const uint32_t *a, size_t n, const uint32_t *b, size_t m)
{
    double j = match_jaro_cp(a, n, b, m);
    if (j <= MATCH_JW_BOOST_MIN)
        return j;
    size_t l = 0;
    while (l < MATCH_JW_PREFIX_MAX && l < n && l < m && a[l] == b[l])
        l++;
    return j + (double)l * MATCH_JW_PREFIX_SCALE * (1.0 - j);
}

/* ---- Levenshtein --------------------------------------------------------------- */

int match_levenshtein_cp(const uint32_t *a, size_t n, const uint32_t *b, size_t m, int bound)
{
    int row0[MATCH_VALUE_MAX + 1], row1[MATCH_VALUE_MAX + 1];
    int *prev = row0, *cur = row1;

    n = cut(n);
    m = cut(m);
    if (bound >= 0 && (n > m ? n - m : m - n) > (size_t)bound)
        return bound + 1;
    for (size_t j = 0; j <= m; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = (int)i;
        int rowmin = cur[0];
        for (size_t j = 1; j <= m; j++) {
            int best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
            if (best < rowmin)
                rowmin = best;
        }
        /* Every later row is at least this row's minimum. */
        if (bound >= 0 && rowmin > bound)
            return bound + 1;
        int *tmp = prev;
        prev = cur;
        cur = tmp;
    }
    int d = prev[m];
    return bound >= 0 && d > bound ? bound + 1 : d;
}

/* ---- on UTF-8 strings ---------------------------------------------------------- */

static int decode_z(const char *s, uint32_t *cp, size_t *len)
{
    return match_utf8_decode(s, strlen(s), cp, MATCH_VALUE_MAX, len);
}

int match_jaro_winkler(const char *a, const char *b, double *out)
{
    uint32_t x[MATCH_VALUE_MAX], y[MATCH_VALUE_MAX];
    size_t n, m;
    int rc = decode_z(a, x, &n);
    if (rc == 0)
        rc = decode_z(b, y, &m);
    if (rc == 0)
        *out = match_jaro_winkler_cp(x, n, y, m);
    return rc;
}

int match_levenshtein(const char *a, const char *b, int bound, int *out)
{
    uint32_t x[MATCH_VALUE_MAX], y[MATCH_VALUE_MAX];
    size_t n, m;
    int rc = decode_z(a, x, &n);
    if (rc == 0)
        rc = decode_z(b, y, &m);
    if (rc == 0)
        *out = match_levenshtein_cp(x, n, y, m, bound);
    return rc;
}

int match_exact(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* ---- dates --------------------------------------------------------------------- */

/* Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil); y >= 1 here, so all divisions are of non-negative numbers. */
static int32_t days_from_civil(int y, int mo, int d)
{
    y -= mo <= 2;
    int era = y / 400;
    int yoe = y - era * 400;
    int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int match_date_parse(const char *s, size_t n, int32_t *days)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d;

    if (n == 8) {
        if (!digits(s, 4, &y) || !digits(s + 4, 2, &mo) || !digits(s + 6, 2, &d))
            return ERR_INVALID;
    } else if (n == 10 && s[4] == '-' && s[7] == '-') {
        if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d))
            return ERR_INVALID;
    } else {
        return ERR_INVALID;
    }
    if (y < 1 || mo < 1 || mo > 12 || d < 1)
        return ERR_INVALID;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return ERR_INVALID;
    *days = days_from_civil(y, mo, d);
    return 0;
}

int match_days_apart(const char *a, const char *b, int32_t *out)
{
    int32_t x, y;
    if (match_date_parse(a, strlen(a), &x) || match_date_parse(b, strlen(b), &y))
        return ERR_INVALID;
    *out = x > y ? x - y : y - x;
    return 0;
}

/* ---- Soundex ------------------------------------------------------------------- */

/* The Soundex digit of an ASCII lower-case letter; '0' for vowels and y, which
 * separate equal codes; 'h' for h and w, which do not. */
static char soundex_code(uint32_t c)
{
    static const char codes[26] = {'0', '1', '2', '3', '0', '1', '2', 'h', '0', '2', '2', '4', '5',
                                   '5', '0', '1', '2', '6', '2', '3', '0', '1', 'h', '2', '0', '2'};
    return codes[c - 'a'];
}

static uint32_t ascii_lower(uint32_t c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

size_t match_soundex_cp(const uint32_t *cp, size_t n, char out[5])
{
    size_t k = 0;
    out[0] = '\0';
    if (n == 0)
        return 0;
    uint32_t first = ascii_lower(cp[0]);
    if (first < 'a' || first > 'z')
        return 0;
    out[k++] = (char)(first - 'a' + 'A');
    char last = soundex_code(first);
    for (size_t i = 1; i < n && k < 4; i++) {
        uint32_t c = ascii_lower(cp[i]);
        if (c < 'a' || c > 'z')
            continue; /* blanks, hyphens, apostrophes, other scripts */
        char code = soundex_code(c);
        if (code == 'h')
            continue;
        if (code != '0' && code != last)
            out[k++] = code;
        last = code;
    }
    while (k < 4)
        out[k++] = '0';
    out[k] = '\0';
    return k;
}
