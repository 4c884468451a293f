/* test_escape.c - util/escape.c: what each mode (text, folded, JSON) makes
 * of control characters, C1 controls, ';', spaces, backslashes and invalid
 * UTF-8, and that JSON output is valid UTF-8 for every byte value. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "util/escape.h"

/* What esc_write makes of len bytes of s. */
static const char *written(const char *s, size_t len, enum esc_mode mode)
{
	static char buf[4096];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	assert_non_null(f);
	esc_write(f, s, len, mode);
	fputc(0, f);
	fclose(f);
	return buf;
}

static void test_text(void **state)
{
	char buf[256];

	(void)state;
	assert_string_equal(written("plain /usr/lib/x.so", 19, ESC_TEXT), "plain /usr/lib/x.so");
	assert_string_equal(written("a\033[35mb\nc\td\re", 13, ESC_TEXT), "a\\x1b[35mb\\nc\\td\\re");
	assert_string_equal(written("back\\slash", 10, ESC_TEXT), "back\\\\slash");
	assert_string_equal(written("\x7f\xff\xfe", 3, ESC_TEXT), "\\x7f\\xff\\xfe");
	/* U+009B (CSI as a C1 control, in UTF-8) is escaped; U+00E9 is not */
	assert_string_equal(written("\xc2\x9b" "31m \xc3\xa9", 8, ESC_TEXT), "\\xc2\\x9b31m \xc3\xa9");
	/* a NUL inside the bytes */
	assert_string_equal(written("a\0b", 3, ESC_TEXT), "a\\x00b");
	/* overlong, surrogate, past U+10FFFF, cut short */
	assert_string_equal(written("\xc0\xaf", 2, ESC_TEXT), "\\xc0\\xaf");
	assert_string_equal(written("\xed\xa0\x80", 3, ESC_TEXT), "\\xed\\xa0\\x80");
	assert_string_equal(written("\xf4\x90\x80\x80", 4, ESC_TEXT), "\\xf4\\x90\\x80\\x80");
	assert_string_equal(written("\xe2\x82", 2, ESC_TEXT), "\\xe2\\x82");
	assert_string_equal(esc_str(buf, sizeof(buf), "x;y z\n", ESC_TEXT), "x;y z\\n");
}

static void test_folded(void **state)
{
	char buf[256];

	(void)state;
	assert_string_equal(esc_str(buf, sizeof(buf), "ev\033[35mil;fake;frame 999999\nA", ESC_FOLDED),
			    "ev\\x1b[35mil\\x3bfake\\x3bframe\\x20999999\\nA");
	assert_string_equal(esc_str(buf, sizeof(buf), "operator new(unsigned long)", ESC_FOLDED),
			    "operator\\x20new(unsigned\\x20long)");
	assert_string_equal(written("a\tb", 3, ESC_FOLDED), "a\\x09b");
	/* cut at an escape's boundary, never inside one */
	assert_string_equal(esc_str(buf, 6, "ab;cd", ESC_FOLDED), "ab");
	assert_string_equal(esc_str(buf, 1, "abc", ESC_FOLDED), "");
}

static void test_json(void **state)
{
	(void)state;
	assert_string_equal(written("q\"b\\s/", 6, ESC_JSON), "q\\\"b\\\\s/");
	assert_string_equal(written("\n\t\r\033\x01", 5, ESC_JSON), "\\n\\t\\r\\u001b\\u0001");
	assert_string_equal(written("\xff\xfe ok \xc3\xa9 \xf0\x9f\x98\x80", 13, ESC_JSON),
			    "\\u00ff\\u00fe ok \xc3\xa9 \xf0\x9f\x98\x80");
	assert_string_equal(written("\xed\xb0\x80", 3, ESC_JSON), "\\u00ed\\u00b0\\u0080");
	assert_string_equal(written("\x7f\xc2\x9b\xc2\xa0", 5, ESC_JSON), "\\u007f\\u009b\xc2\xa0");
}

/* Every mode's output is valid UTF-8 without a control character (C0, DEL,
 * C1), folded's without ';' or space, whatever the input. */
static void test_any_bytes(void **state)
{
	char in[64];

	(void)state;
	srand(18);
	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(rand() % 64);

		for (size_t i = 0; i < n; i++)
			in[i] = (char)(round < 256 && i == 0 ? round : rand());
		for (int mode = ESC_TEXT; mode <= ESC_JSON; mode++) {
			const unsigned char *o = (const unsigned char *)written(in, n, mode);
			size_t len = strlen((const char *)o);

			for (size_t i = 0; i < len;) {
				size_t v = utf8_valid_len(o + i, len - i);

				assert_true(v > 0);
				assert_true(o[i] >= 0x20 && o[i] != 0x7f);
				assert_false(v == 2 && o[i] == 0xc2 && o[i + 1] < 0xa0);
				if (mode == ESC_FOLDED)
					assert_true(o[i] != ';' && o[i] != ' ');
				i += v;
			}
		}
	}
}

static void test_json_string(void **state)
{
	char buf[64];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	(void)state;
	esc_json_string(f, "a\"\n");
	esc_json_string(f, NULL);
	fputc(0, f);
	fclose(f);
	assert_string_equal(buf, "\"a\\\"\\n\"\"\"");
}

/* JSON for an HTML <script>: nothing that ends the element, opens a comment
 * or breaks a line for old JavaScript; the rest (U+2027, é) untouched. */
static void test_json_for_html(void **state)
{
	const char in[] = "[\"</script><!--&\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xa7\xc3\xa9\"]";
	char buf[256];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	(void)state;
	esc_json_for_html(f, in, sizeof(in) - 1);
	esc_json_for_html(f, "\xe2\x80", 2); /* a cut sequence is copied as it is */
	fputc(0, f);
	fclose(f);
	assert_string_equal(buf, "[\"\\u003c/script\\u003e\\u003c!--\\u0026\\u2028\\u2029\xe2\x80\xa7\xc3\xa9\"]\xe2\x80");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_folded),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_any_bytes),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_json_for_html),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
