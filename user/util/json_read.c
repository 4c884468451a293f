/* json_read.c - the JSON reader: a recursive-descent parser from text to a
 * json_value tree. Recursion is bounded by the depth limit (itself capped at
 * JSON_HARD_MAX_DEPTH), input by the size limit; every error frees what was
 * built and says where, by line and column. Strings may hold any byte >= 0x20
 * (faultline's own JSON copies argv bytes as they are), escapes are decoded
 * to UTF-8, and a \u surrogate must come in a proper pair. An object that
 * names a member twice is rejected (the duplicate's line and column are
 * given): readers differ on which value counts, so a summary with
 * "lost_events" twice must not pass `check` with one and jq with the other. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/escape.h"
#include "util/io.h"
#include "util/json_read.h"

#define JSON_HARD_MAX_DEPTH 4096u

struct parser {
	const char *s;
	size_t len, pos;
	unsigned max_depth;
	char *err;
	size_t errlen;
	bool failed;
};

static bool fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first error, prefixed with the line and column of p->pos. */
static bool fail(struct parser *p, const char *fmt, ...)
{
	size_t line = 1, col = 1;
	va_list ap;
	int n;

	if (p->failed)
		return false;
	p->failed = true;
	if (!p->err || !p->errlen)
		return false;
	for (size_t i = 0; i < p->pos && i < p->len; i++) {
		if (p->s[i] == '\n')
			line++, col = 1;
		else
			col++;
	}
	n = snprintf(p->err, p->errlen, "line %zu, column %zu: ", line, col);
	if (n < 0 || (size_t)n >= p->errlen)
		return false;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	return false;
}

/* A character for a message: 'x', or a hex code when it is not printable. */
static const char *show_char(unsigned char c, char buf[8])
{
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "0x%02x", c);
	return buf;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static void free_contents(struct json_value *v)
{
	if (v->type == JSON_ARRAY || v->type == JSON_OBJECT) {
		for (size_t i = 0; i < v->n; i++) {
			free_contents(&v->items[i]);
			free(v->items[i].key);
		}
		free(v->items);
	}
	if (v->type == JSON_STRING)
		free(v->str);
	v->items = NULL;
	v->str = NULL;
	v->n = 0;
}

void json_free(struct json_value *v)
{
	if (!v)
		return;
	free_contents(v);
	free(v->key);
	free(v);
}

static bool parse_value(struct parser *p, struct json_value *out, unsigned depth);

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at p->pos (after "\u"); advances past them. */
static bool read_hex4(struct parser *p, unsigned *cp)
{
	unsigned v = 0;

	if (p->len - p->pos < 4)
		return fail(p, "\\u needs four hex digits");
	for (int i = 0; i < 4; i++) {
		int h = hexval(p->s[p->pos + i]);

		if (h < 0) {
			p->pos += i;
			return fail(p, "\\u needs four hex digits");
		}
		v = v << 4 | (unsigned)h;
	}
	p->pos += 4;
	*cp = v;
	return true;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One escape after the backslash (at p->pos); writes its UTF-8 to o. */
static bool read_escape(struct parser *p, char *o, size_t *olen)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	unsigned cp, lo;
	char c;

	if (p->pos >= p->len)
		return fail(p, "unterminated string");
	c = p->s[p->pos];
	if (c && (e = strchr(from, c))) {
		p->pos++;
		o[0] = to[e - from];
		*olen = 1;
		return true;
	}
	if (c != 'u') {
		char b[8];

		return fail(p, "invalid escape in a string: '\\' followed by %s", show_char((unsigned char)c, b));
	}
	p->pos++;
	if (!read_hex4(p, &cp))
		return false;
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		p->pos -= 6;
		return fail(p, "\\u%04x is a lone low surrogate", cp);
	}
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
			p->pos -= 6;
			return fail(p, "\\u%04x (a high surrogate) is not followed by a low one", cp);
		}
		p->pos += 2;
		if (!read_hex4(p, &lo))
			return false;
		if (lo < 0xdc00 || lo > 0xdfff) {
			p->pos -= 6;
			return fail(p, "\\u%04x after a high surrogate is not a low surrogate", lo);
		}
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	*olen = put_utf8(o, cp);
	return true;
}

/* A string at p->pos (on its opening quote) into a new NUL-terminated buffer. */
static bool parse_string(struct parser *p, char **str, size_t *slen)
{
	size_t start = ++p->pos, end = start, n = 0;
	char *buf;

	/* Find the closing quote first: the decoded text is never longer. */
	while (end < p->len && p->s[end] != '"')
		end += p->s[end] == '\\' ? 2 : 1;
	if (end >= p->len) {
		p->pos = p->len;
		return fail(p, "unterminated string");
	}
	buf = malloc(end - start + 1);
	if (!buf)
		return fail(p, "out of memory");
	while (p->pos < end) {
		unsigned char c = (unsigned char)p->s[p->pos];
		size_t k = 0;

		if (c < 0x20) {
			char b[8];

			free(buf);
			return fail(p, "control character %s in a string (must be escaped)", show_char(c, b));
		}
		if (c != '\\') {
			buf[n++] = (char)c;
			p->pos++;
			continue;
		}
		p->pos++;
		if (!read_escape(p, buf + n, &k)) {
			free(buf);
			return false;
		}
		n += k;
	}
	p->pos = end + 1;
	buf[n] = '\0';
	*str = buf;
	*slen = n;
	return true;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool parse_number(struct parser *p, struct json_value *out)
{
	size_t start = p->pos, i = p->pos;
	bool integer = true, neg = false, overflow = false;
	uint64_t u = 0;
	char small[64], *tok, *endp;

	if (p->s[i] == '-')
		neg = true, i++;
	if (i >= p->len || !is_digit(p->s[i])) {
		p->pos = i;
		return fail(p, "invalid number: no digit after '-'");
	}
	if (p->s[i] == '0') {
		i++;
		if (i < p->len && is_digit(p->s[i])) {
			p->pos = i;
			return fail(p, "invalid number: a leading zero");
		}
	} else {
		for (; i < p->len && is_digit(p->s[i]); i++) {
			unsigned d = (unsigned)(p->s[i] - '0');

			if (u > (UINT64_MAX - d) / 10)
				overflow = true;
			else
				u = u * 10 + d;
		}
	}
	if (i < p->len && p->s[i] == '.') {
		integer = false;
		if (++i >= p->len || !is_digit(p->s[i])) {
			p->pos = i;
			return fail(p, "invalid number: no digit after '.'");
		}
		while (i < p->len && is_digit(p->s[i]))
			i++;
	}
	if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
		integer = false;
		if (++i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
			i++;
		if (i >= p->len || !is_digit(p->s[i])) {
			p->pos = i;
			return fail(p, "invalid number: no digit in the exponent");
		}
		while (i < p->len && is_digit(p->s[i]))
			i++;
	}
	/* strtod wants a NUL-terminated copy (the input need not be). */
	tok = i - start < sizeof(small) ? small : malloc(i - start + 1);
	if (!tok)
		return fail(p, "out of memory");
	memcpy(tok, p->s + start, i - start);
	tok[i - start] = '\0';
	errno = 0;
	out->num = strtod(tok, &endp);
	if (tok != small)
		free(tok);
	if (errno == ERANGE && (out->num > 1 || out->num < -1))
		return fail(p, "number out of range");
	out->type = JSON_NUMBER;
	out->is_uint = integer && !neg && !overflow;
	out->u64 = out->is_uint ? u : 0;
	p->pos = i;
	return true;
}

static bool parse_literal(struct parser *p, struct json_value *out)
{
	static const struct { const char *word; enum json_type type; bool b; } lits[] = {
		{ "true", JSON_BOOL, true }, { "false", JSON_BOOL, false }, { "null", JSON_NULL, false } };

	for (size_t k = 0; k < sizeof(lits) / sizeof(lits[0]); k++) {
		size_t wl = strlen(lits[k].word);

		if (p->len - p->pos >= wl && !memcmp(p->s + p->pos, lits[k].word, wl)) {
			p->pos += wl;
			out->type = lits[k].type;
			out->boolean = lits[k].b;
			return true;
		}
	}
	return fail(p, "invalid literal (expected true, false or null)");
}

/* Appends an element slot to a container; returns it zeroed, or NULL. */
static struct json_value *grow(struct parser *p, struct json_value *c, size_t *cap)
{
	if (c->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct json_value *ni = realloc(c->items, ncap * sizeof(*ni));

		if (!ni)
			return fail(p, "out of memory"), NULL;
		c->items = ni;
		*cap = ncap;
	}
	memset(&c->items[c->n], 0, sizeof(c->items[0]));
	return &c->items[c->n];
}

/* Duplicate keys of an object: its members' indexes sorted by key, then by
 * place, so equal keys sit side by side. */
static int cmp_key(const void *a, const void *b, void *items)
{
	const struct json_value *x = (const struct json_value *)items + *(const size_t *)a;
	const struct json_value *y = (const struct json_value *)items + *(const size_t *)b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int r = memcmp(x->key, y->key, n);

	if (r)
		return r;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Fails at the first repeated key of obj (its members' key offsets in
 * kpos), in O(n log n). */
static bool check_unique_keys(struct parser *p, const struct json_value *obj, const size_t *kpos)
{
	size_t *order, dup = SIZE_MAX;
	char shown[96];

	if (obj->n < 2)
		return true;
	if (!(order = malloc(obj->n * sizeof(*order))))
		return fail(p, "out of memory");
	for (size_t i = 0; i < obj->n; i++)
		order[i] = i;
	qsort_r(order, obj->n, sizeof(*order), cmp_key, obj->items);
	for (size_t i = 1; i < obj->n; i++) {
		const struct json_value *x = &obj->items[order[i - 1]], *y = &obj->items[order[i]];

		if (x->key_len == y->key_len && !memcmp(x->key, y->key, x->key_len) &&
		    (dup == SIZE_MAX || order[i] < dup))
			dup = order[i]; /* the earliest second occurrence in the text */
	}
	free(order);
	if (dup == SIZE_MAX)
		return true;
	p->pos = kpos[dup];
	return fail(p, "duplicate key \"%s\" in an object", esc_str(shown, sizeof(shown), obj->items[dup].key, ESC_TEXT));
}

/* An array or object at p->pos (on '[' or '{'). */
static bool parse_container(struct parser *p, struct json_value *out, unsigned depth)
{
	bool object = p->s[p->pos] == '{';
	char close = object ? '}' : ']';
	size_t cap = 0, *kpos = NULL, kcap = 0;

	if (depth >= p->max_depth)
		return fail(p, "nested deeper than %u levels", p->max_depth);
	out->type = object ? JSON_OBJECT : JSON_ARRAY;
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return true;
	}
	for (;;) {
		struct json_value *el = grow(p, out, &cap);

		if (!el)
			goto bad;
		skip_ws(p);
		if (object) {
			if (p->pos >= p->len || p->s[p->pos] != '"') {
				fail(p, p->pos >= p->len ? "unexpected end of input in an object"
					 : "expected a string as object key");
				goto bad;
			}
			if (out->n == kcap) {
				size_t *nk = realloc(kpos, (kcap = kcap ? kcap * 2 : 8) * sizeof(*nk));

				if (!nk) {
					fail(p, "out of memory");
					goto bad;
				}
				kpos = nk;
			}
			kpos[out->n] = p->pos;
			if (!parse_string(p, &el->key, &el->key_len))
				goto bad;
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':') {
				free(el->key);
				fail(p, "expected ':' after an object key");
				goto bad;
			}
			p->pos++;
		}
		if (!parse_value(p, el, depth + 1)) {
			free(el->key);
			goto bad;
		}
		out->n++;
		skip_ws(p);
		if (p->pos >= p->len) {
			fail(p, "unexpected end of input in an %s", object ? "object" : "array");
			goto bad;
		}
		if (p->s[p->pos] == close) {
			p->pos++;
			if (object && !check_unique_keys(p, out, kpos))
				goto bad;
			free(kpos);
			return true;
		}
		if (p->s[p->pos] != ',') {
			fail(p, "expected ',' or '%c' in an %s", close, object ? "object" : "array");
			goto bad;
		}
		p->pos++;
	}
bad:
	free(kpos);
	free_contents(out);
	out->type = JSON_NULL;
	return false;
}

static bool parse_value(struct parser *p, struct json_value *out, unsigned depth)
{
	char b[8];
	char c;

	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, "unexpected end of input (expected a value)");
	c = p->s[p->pos];
	switch (c) {
	case '{':
	case '[':
		return parse_container(p, out, depth);
	case '"':
		if (!parse_string(p, &out->str, &out->len))
			return false;
		out->type = JSON_STRING;
		return true;
	case 't':
	case 'f':
	case 'n':
		return parse_literal(p, out);
	default:
		if (c == '-' || is_digit(c))
			return parse_number(p, out);
		return fail(p, "unexpected character %s (expected a value)", show_char((unsigned char)c, b));
	}
}

struct json_value *json_parse(const char *text, size_t len, const struct json_limits *lim,
			      char *err, size_t errlen)
{
	size_t max_size = lim && lim->max_size ? lim->max_size : JSON_DEFAULT_MAX_SIZE;
	struct parser p = { .s = text, .len = len, .err = err, .errlen = errlen };
	struct json_value *root;

	p.max_depth = lim && lim->max_depth ? lim->max_depth : JSON_DEFAULT_MAX_DEPTH;
	if (p.max_depth > JSON_HARD_MAX_DEPTH)
		p.max_depth = JSON_HARD_MAX_DEPTH;
	if (err && errlen)
		err[0] = '\0';
	if (len > max_size) {
		if (err && errlen)
			snprintf(err, errlen, "input is %zu bytes, more than the limit of %zu", len, max_size);
		return NULL;
	}
	if (!text && len)
		return fail(&p, "no input"), NULL;
	skip_ws(&p);
	if (p.pos >= p.len)
		return fail(&p, "no JSON value (empty input)"), NULL;
	root = calloc(1, sizeof(*root));
	if (!root)
		return fail(&p, "out of memory"), NULL;
	if (!parse_value(&p, root, 0)) {
		json_free(root);
		return NULL;
	}
	skip_ws(&p);
	if (p.pos < p.len) {
		char b[8];

		fail(&p, "unexpected %s after the JSON value", show_char((unsigned char)p.s[p.pos], b));
		json_free(root);
		return NULL;
	}
	return root;
}

char *json_slurp(const char *path, size_t max_size, size_t *lenp, char *err, size_t errlen)
{
	size_t len = 0, cap;
	struct stat st;
	bool regular;
	char *buf;
	int fd;

	if (!max_size)
		max_size = JSON_DEFAULT_MAX_SIZE;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	if (regular && (uint64_t)st.st_size > max_size) {
		snprintf(err, errlen, "%s: %lld bytes, more than the limit of %zu", path,
			 (long long)st.st_size, max_size);
		close(fd);
		return NULL;
	}
	/* Read at most max_size + 1 bytes: one more tells a pipe was too long. */
	cap = regular && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
	if (cap > max_size + 1)
		cap = max_size + 1;
	buf = malloc(cap + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t r;

		if (len == cap) {
			size_t ncap = cap * 2 > max_size + 1 ? max_size + 1 : cap * 2;
			char *nb;

			if (ncap == cap)
				break;
			nb = realloc(buf, ncap + 1);
			if (!nb) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		r = io_read(fd, buf + len, cap - len);
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > max_size) {
		snprintf(err, errlen, "%s: more than the limit of %zu bytes", path, max_size);
		goto fail;
	}
	if (len == 0) {
		snprintf(err, errlen, "%s: empty file", path);
		goto fail;
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

struct json_value *json_parse_file(const char *path, const struct json_limits *lim,
				   char *err, size_t errlen)
{
	struct json_value *v;
	char perr[512], *buf;
	size_t len;

	buf = json_slurp(path, lim ? lim->max_size : 0, &len, err, errlen);
	if (!buf)
		return NULL;
	v = json_parse(buf, len, lim, perr, sizeof(perr));
	if (!v)
		snprintf(err, errlen, "%s: not valid JSON: %s", path, perr);
	free(buf);
	return v;
}

const struct json_value *json_get(const struct json_value *v, const char *key)
{
	size_t kl;

	if (!v || v->type != JSON_OBJECT || !key)
		return NULL;
	kl = strlen(key);
	for (size_t i = 0; i < v->n; i++)
		if (v->items[i].key_len == kl && !memcmp(v->items[i].key, key, kl))
			return &v->items[i];
	return NULL;
}

const char *json_type_name(enum json_type t)
{
	switch (t) {
	case JSON_NULL: return "null";
	case JSON_BOOL: return "a boolean";
	case JSON_NUMBER: return "a number";
	case JSON_STRING: return "a string";
	case JSON_ARRAY: return "an array";
	case JSON_OBJECT: return "an object";
	}
	return "?";
}
