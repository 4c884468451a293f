/* escape.c - escaping of target-controlled strings for each output (escape.h). */
#include <stdbool.h>
#include <string.h>
#include "util/escape.h"

size_t utf8_valid_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* The escape of the byte run at s (n bytes left) for mode, into e (room for
 * 7 bytes per byte of a 4-byte sequence); *used: bytes of s it stands for.
 * Returns its length; e == s's bytes unchanged when nothing needs escaping. */
static size_t escape_one(const unsigned char *s, size_t n, enum esc_mode mode, char *e, size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c = s[0];
	size_t v = utf8_valid_len(s, n), k = 0;
	bool bad;

	*used = v ? v : 1;
	if (mode == ESC_JSON) {
		if (c == '"' || c == '\\')
			return e[0] = '\\', e[1] = (char)c, 2;
		if (c == '\n') return memcpy(e, "\\n", 2), 2;
		if (c == '\t') return memcpy(e, "\\t", 2), 2;
		if (c == '\r') return memcpy(e, "\\r", 2), 2;
		if (c < 0x20 || c == 0x7f || !v)
			return memcpy(e, "\\u00", 4), e[4] = hex[c >> 4], e[5] = hex[c & 15], 6;
		if (v == 2 && c == 0xc2 && s[1] < 0xa0) /* a C1 control: the same code point, escaped */
			return memcpy(e, "\\u00", 4), e[4] = hex[s[1] >> 4], e[5] = hex[s[1] & 15], 6;
		memcpy(e, s, v);
		return v;
	}
	/* text and folded: controls (C0, DEL, C1) and invalid bytes as \xNN */
	bad = !v || c < 0x20 || c == 0x7f || (v == 2 && c == 0xc2 && s[1] < 0xa0);
	if (!bad && mode == ESC_FOLDED && (c == ';' || c == ' '))
		bad = true;
	if (c == '\\')
		return memcpy(e, "\\\\", 2), 2;
	if (!bad) {
		memcpy(e, s, v);
		return v;
	}
	if (c == '\n') return memcpy(e, "\\n", 2), 2;
	if (c == '\t' && mode == ESC_TEXT) return memcpy(e, "\\t", 2), 2;
	if (c == '\r') return memcpy(e, "\\r", 2), 2;
	for (size_t i = 0; i < *used; i++) {
		e[k++] = '\\';
		e[k++] = 'x';
		e[k++] = hex[s[i] >> 4];
		e[k++] = hex[s[i] & 15];
	}
	return k;
}

void esc_write(FILE *out, const char *s, size_t len, enum esc_mode mode)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	char e[32];

	while (p < end) {
		const unsigned char *run = p;
		size_t used, n;

		/* plain ASCII goes out in runs */
		while (p < end && *p >= 0x20 && *p < 0x7f && *p != '\\' && *p != '"' &&
		       !(mode == ESC_FOLDED && (*p == ';' || *p == ' ')))
			p++;
		if (p > run)
			fwrite(run, 1, p - run, out);
		if (p == end)
			break;
		n = escape_one(p, end - p, mode, e, &used);
		fwrite(e, 1, n, out);
		p += used;
	}
}

void esc_puts(FILE *out, const char *s, enum esc_mode mode)
{
	if (s)
		esc_write(out, s, strlen(s), mode);
}

void esc_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	esc_puts(out, s ? s : "", ESC_JSON);
	fputc('"', out);
}

void esc_json_for_html(FILE *out, const char *json, size_t len)
{
	const unsigned char *s = (const unsigned char *)json;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '<' || s[i] == '>' || s[i] == '&')
			fprintf(out, "\\u%04x", s[i]);
		else if (s[i] == 0xe2 && i + 2 < len && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
			fprintf(out, "\\u%04x", 0x2000 + (s[i + 2] - 0x80));
			i += 2;
		} else
			fputc(s[i], out);
	}
}

char *esc_str(char *buf, size_t cap, const char *s, enum esc_mode mode)
{
	const unsigned char *p = (const unsigned char *)(s ? s : ""), *end = p + strlen((const char *)p);
	size_t o = 0;
	char e[32];

	if (!cap)
		return buf;
	while (p < end) {
		size_t used, n = escape_one(p, end - p, mode, e, &used);

		if (o + n >= cap)
			break;
		memcpy(buf + o, e, n);
		o += n;
		p += used;
	}
	buf[o] = 0;
	return buf;
}
