/* test_json_read.c - the JSON reader: valid documents, nesting, strings and
 * escapes, exact 64-bit integers, and every kind of bad input (truncated,
 * trailing garbage, depth bombs, invalid tokens) rejected with a message,
 * never a crash (run under ASan/UBSan). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "util/json_read.h"

static struct json_value *parse(const char *s)
{
	char err[256];

	return json_parse(s, strlen(s), NULL, err, sizeof(err));
}

/* Expects s to be rejected; returns the message for further checks. */
static const char *reject(const char *s, size_t len)
{
	static char err[256];
	struct json_value *v;

	err[0] = '\0';
	v = json_parse(s, len, NULL, err, sizeof(err));
	if (v) {
		json_free(v);
		fail_msg("accepted bad JSON: %.*s", (int)(len > 80 ? 80 : len), s);
	}
	assert_true(err[0] != '\0');
	return err;
}

static void test_scalars(void **state)
{
	struct json_value *v;

	(void)state;
	v = parse("true");
	assert_non_null(v);
	assert_int_equal(v->type, JSON_BOOL);
	assert_true(v->boolean);
	json_free(v);
	v = parse(" false ");
	assert_int_equal(v->type, JSON_BOOL);
	assert_false(v->boolean);
	json_free(v);
	v = parse("\n\tnull\r\n");
	assert_int_equal(v->type, JSON_NULL);
	json_free(v);
	v = parse("\"hi\"");
	assert_int_equal(v->type, JSON_STRING);
	assert_string_equal(v->str, "hi");
	assert_int_equal(v->len, 2);
	json_free(v);
}

static void test_numbers(void **state)
{
	struct json_value *v;

	(void)state;
	v = parse("0");
	assert_int_equal(v->type, JSON_NUMBER);
	assert_true(v->is_uint);
	assert_true(v->u64 == 0);
	json_free(v);
	v = parse("18446744073709551615");	/* UINT64_MAX, exact */
	assert_true(v->is_uint);
	assert_true(v->u64 == UINT64_MAX);
	json_free(v);
	v = parse("9007199254740993");	/* 2^53 + 1: a double would round it */
	assert_true(v->is_uint);
	assert_true(v->u64 == 9007199254740993ull);
	json_free(v);
	v = parse("18446744073709551616");	/* 2^64: too big for u64, kept as a double */
	assert_int_equal(v->type, JSON_NUMBER);
	assert_false(v->is_uint);
	assert_true(v->num > 1.8e19);
	json_free(v);
	v = parse("-12");
	assert_false(v->is_uint);
	assert_true(v->num == -12);
	json_free(v);
	v = parse("-0");
	assert_false(v->is_uint);
	json_free(v);
	v = parse("12.5");
	assert_false(v->is_uint);
	assert_true(v->num == 12.5);
	json_free(v);
	v = parse("1e3");
	assert_false(v->is_uint);
	assert_true(v->num == 1000);
	json_free(v);
	v = parse("2.5E-1");
	assert_true(v->num == 0.25);
	json_free(v);
	v = parse("1e-400");	/* underflows to 0: fine */
	assert_non_null(v);
	json_free(v);
	/* A long number is copied for strtod, not read past its end. */
	{
		char big[301];	/* 300 digits: 7.7e299, in range */

		memset(big, '7', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		v = parse(big);
		assert_non_null(v);
		assert_false(v->is_uint);
		json_free(v);
	}
}

static void test_objects_and_arrays(void **state)
{
	struct json_value *v;
	const struct json_value *a, *o;

	(void)state;
	v = parse("{\"a\": [1, 2, {\"b\": [[], {}]}], \"c\": {\"d\": null}, \"e\": \"x\"}");
	assert_non_null(v);
	assert_int_equal(v->type, JSON_OBJECT);
	assert_int_equal(v->n, 3);
	a = json_get(v, "a");
	assert_non_null(a);
	assert_int_equal(a->type, JSON_ARRAY);
	assert_int_equal(a->n, 3);
	assert_true(a->items[1].u64 == 2);
	o = json_get(&a->items[2], "b");
	assert_int_equal(o->type, JSON_ARRAY);
	assert_int_equal(o->n, 2);
	assert_int_equal(o->items[0].type, JSON_ARRAY);
	assert_int_equal(o->items[0].n, 0);
	assert_int_equal(o->items[1].type, JSON_OBJECT);
	assert_int_equal(json_get(json_get(v, "c"), "d")->type, JSON_NULL);
	assert_null(json_get(v, "nope"));
	assert_null(json_get(a, "a"));	/* not an object */
	assert_null(json_get(NULL, "a"));
	assert_string_equal(json_get(v, "e")->str, "x");
	json_free(v);
	/* Many members: the containers grow. */
	{
		char buf[20000];
		size_t o2 = 0;

		o2 += snprintf(buf + o2, sizeof(buf) - o2, "[");
		for (int i = 0; i < 2000; i++)
			o2 += snprintf(buf + o2, sizeof(buf) - o2, "%s%d", i ? "," : "", i);
		snprintf(buf + o2, sizeof(buf) - o2, "]");
		v = parse(buf);
		assert_non_null(v);
		assert_int_equal(v->n, 2000);
		assert_true(v->items[1999].u64 == 1999);
		json_free(v);
	}
}

static void test_strings(void **state)
{
	struct json_value *v;

	(void)state;
	v = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
	assert_non_null(v);
	assert_string_equal(v->str, "a\"b\\c/d\b\f\n\r\t");
	json_free(v);
	v = parse("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"");	/* A é € 😀 */
	assert_non_null(v);
	assert_string_equal(v->str, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	json_free(v);
	v = parse("\"a\\u0000b\"");	/* an embedded NUL: len tells */
	assert_non_null(v);
	assert_int_equal(v->len, 3);
	assert_memory_equal(v->str, "a\0b", 3);
	json_free(v);
	v = parse("\"caf\xc3\xa9 \xff\"");	/* raw bytes pass through as they are */
	assert_non_null(v);
	assert_string_equal(v->str, "caf\xc3\xa9 \xff");
	json_free(v);
	v = parse("{\"k\\u0031\": 1}");	/* escapes in keys too */
	assert_non_null(json_get(v, "k1"));
	json_free(v);
}

static void test_errors(void **state)
{
	static const char *const bad[] = {
		"", "   ", "{", "[", "[1,", "[1", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,", "\"abc",
		"\"ab\\", "\"\\u12", "tru", "nul", "falsey", "[1,]", "{,}", "{\"a\":1,}", "[,1]", "{1:2}",
		"{\"a\" 1}", "[1 2]", "01", "1.", ".5", "-", "+1", "1e", "1e+", "--1", "0x10", "NaN",
		"Infinity", "1e999", "[1] x", "{} {}", "\"a\"b", "'a'", "\"\\x\"", "\"\\u00zz\"",
		"\"\\ud800\"", "\"\\ud800\\u0041\"", "\"\\udc00\"", "\"tab\there\"", "\"nl\nhere\"",
		"\xef\xbb\xbf{}", "[1,2]]", "{\"a\":[}", "[\"a\":1]", "/* c */ {}", "{\"a\":1}//",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		reject(bad[i], strlen(bad[i]));
	/* A NUL byte inside and outside a string. */
	reject("[1,\0 2]", 7);
	reject("\"a\0b\"", 5);
	reject("{}\0", 3);
}

static void test_error_messages(void **state)
{
	const char *m;

	(void)state;
	m = reject("{\n  \"a\": 1,\n  \"b\" 2\n}", 20);
	assert_non_null(strstr(m, "line 3"));
	assert_non_null(strstr(m, "':'"));
	m = reject("[1] x", 5);
	assert_non_null(strstr(m, "after the JSON value"));
	m = reject("[1,2", 4);
	assert_non_null(strstr(m, "end of input"));
	/* A tiny buffer for the message is fine. */
	{
		char small[8];

		assert_null(json_parse("[", 1, NULL, small, sizeof(small)));
		assert_true(strlen(small) < sizeof(small));
		assert_null(json_parse("[", 1, NULL, NULL, 0));
	}
}

static void test_depth_limit(void **state)
{
	struct json_limits lim = { .max_depth = 10 };
	char err[256], *bomb;
	struct json_value *v;
	size_t n = 1000000;

	(void)state;
	/* 10 levels pass, 11 do not. */
	v = json_parse("[[[[[[[[[[1]]]]]]]]]]", 21, &lim, err, sizeof(err));
	assert_non_null(v);
	json_free(v);
	assert_null(json_parse("[[[[[[[[[[[1]]]]]]]]]]]", 23, &lim, err, sizeof(err)));
	assert_non_null(strstr(err, "nested deeper"));
	/* A million '[' with the default limit: an error, not a stack overflow. */
	bomb = malloc(n);
	assert_non_null(bomb);
	memset(bomb, '[', n);
	assert_null(json_parse(bomb, n, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "nested deeper"));
	for (size_t i = 0; i < n; i += 2)
		memcpy(bomb + i, "{\"", 2);	/* {"{"{"... : a key that never ends */
	assert_null(json_parse(bomb, n, NULL, err, sizeof(err)));
	for (size_t i = 0; i + 6 <= n; i += 6)
		memcpy(bomb + i, "{\"a\":[", 6);
	assert_null(json_parse(bomb, n - n % 6, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "nested deeper"));
	/* An absurd limit is capped, still no stack overflow. */
	lim.max_depth = 4000000000u;
	memset(bomb, '[', n);
	assert_null(json_parse(bomb, n, &lim, err, sizeof(err)));
	free(bomb);
}

static void test_size_limit(void **state)
{
	struct json_limits lim = { .max_size = 16 };
	struct json_value *v;
	char err[256];

	(void)state;
	assert_null(json_parse("[1,2,3,4,5,6,7,8,9]", 19, &lim, err, sizeof(err)));
	assert_non_null(strstr(err, "limit"));
	v = json_parse("[1,2,3,4,5,6,7]", 15, &lim, err, sizeof(err));
	assert_non_null(v);
	json_free(v);
}

/* Every prefix of a valid document is rejected (or, if complete, accepted)
 * without a crash, and so is each single-byte corruption of it. */
static void test_truncations_and_corruptions(void **state)
{
	static const char doc[] =
		"{\"schema\":\"faultline.summary.v1\",\"target\":{\"command\":[\"a\\u00e9\",\"b\\n\"],"
		"\"pid\":12,\"exit_status\":null},\"x\":[true,false,-1.5e3,18446744073709551615],"
		"\"s\":\"\\ud83d\\ude00\"}";
	static const char junk[] = "{}[],:\"\\0-+.eE tfnu\x01\xff";
	size_t len = strlen(doc);
	struct json_value *v;
	char err[256];

	(void)state;
	v = json_parse(doc, len, NULL, err, sizeof(err));
	assert_non_null(v);
	json_free(v);
	for (size_t i = 0; i < len; i++) {
		/* exact-size heap copies, so ASan sees any read past the end */
		char *p = malloc(i ? i : 1);

		memcpy(p, doc, i);
		assert_null(json_parse(p, i, NULL, err, sizeof(err)));
		free(p);
	}
	for (size_t i = 0; i < len; i++)
		for (size_t j = 0; j < sizeof(junk) - 1; j++) {
			char *p = malloc(len);

			memcpy(p, doc, len);
			p[i] = junk[j];
			v = json_parse(p, len, NULL, err, sizeof(err));
			json_free(v);
			free(p);
		}
}

/* Random bytes from a fixed seed: whatever comes, no crash and no leak. */
static void test_random_input(void **state)
{
	static const char alphabet[] = "{}[],:\"\\0123456789-+.eEtruefalsnl \n\x01\x80";
	unsigned seed = 12345;
	char err[256];

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(seed % 64);
		char *p = malloc(len ? len : 1);
		struct json_value *v;

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			p[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		seed = seed * 1103515245u + 12345u;
		v = json_parse(p, len, NULL, err, sizeof(err));
		json_free(v);
		free(p);
	}
}

static void test_files(void **state)
{
	char path[] = "/tmp/test_json_read.XXXXXX", err[512];
	struct json_value *v;
	size_t len;
	char *text;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"a\": [1]}\n", 11), 11);
	close(fd);
	v = json_parse_file(path, NULL, err, sizeof(err));
	assert_non_null(v);
	assert_non_null(json_get(v, "a"));
	json_free(v);
	text = json_slurp(path, 0, &len, err, sizeof(err));
	assert_non_null(text);
	assert_int_equal(len, 11);
	assert_int_equal(text[len], '\0');
	free(text);
	{
		struct json_limits lim = { .max_size = 5 };

		assert_null(json_parse_file(path, &lim, err, sizeof(err)));
		assert_non_null(strstr(err, "limit"));
	}
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"a\": [1}", 9), 9);
	close(fd);
	assert_null(json_parse_file(path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "not valid JSON"));
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	assert_null(json_parse_file(path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "empty"));
	unlink(path);
	assert_null(json_parse_file(path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	assert_null(json_parse_file("/tmp", NULL, err, sizeof(err)));	/* a directory */
	assert_null(json_parse_file("/dev/null", NULL, err, sizeof(err)));
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(json_type_name(JSON_OBJECT), "an object");
	assert_string_equal(json_type_name(JSON_NUMBER), "a number");
	assert_string_equal(json_type_name(JSON_NULL), "null");
	json_free(NULL);
}

/* A key named twice in an object, at any depth, is rejected with the
 * duplicate's line and column; the same key in sibling objects is fine. */
static const char *reject_str(const char *s)
{
	return reject(s, strlen(s));
}

static void test_duplicate_keys(void **state)
{
	struct json_value *v;
	const char *e;
	char big[4096];
	size_t o = 0;

	(void)state;
	e = reject_str("{\"lost_events\":0,\"lost_events\":5}");
	assert_non_null(strstr(e, "line 1, column 18: duplicate key \"lost_events\""));
	e = reject_str("{\"a\":{\"x\":1},\n \"extra\":{\"truncated\":false,\n\"truncated\":true}}");
	assert_non_null(strstr(e, "line 3, column 1: duplicate key \"truncated\""));
	e = reject_str("[1,{\"b\":1,\"c\":2,\"b\":3}]");
	assert_non_null(strstr(e, "duplicate key \"b\""));
	/* the same bytes after escapes: "a" and "\u0061" */
	e = reject_str("{\"a\":1,\"\\u0061\":2}");
	assert_non_null(strstr(e, "duplicate key \"a\""));
	/* a control character in the key is shown escaped: one line */
	{
		const char *ctl = "{\"\\n\\u001b\":1,\"\\n\\u001b\":2}";

		e = reject_str(ctl);
	}
	assert_null(strchr(e, '\n'));
	assert_null(strchr(e, 0x1b));
	/* prefixes and siblings are not duplicates */
	v = parse("{\"ab\":1,\"a\":2,\"abc\":3,\"o\":{\"a\":1},\"p\":{\"a\":1}}");
	assert_non_null(v);
	json_free(v);
	/* a large object: the earliest second occurrence is named */
	o += (size_t)snprintf(big + o, sizeof(big) - o, "{");
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "\"k%d\":%d,", i, i);
	o += (size_t)snprintf(big + o, sizeof(big) - o, "\"k7\":1,\"k3\":2}");
	e = reject(big, o);
	assert_non_null(strstr(e, "duplicate key \"k7\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_objects_and_arrays),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_truncations_and_corruptions),
		cmocka_unit_test(test_random_input),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_duplicate_keys),
	};

	return cmocka_run_group_tests_name("json_read", tests, NULL, NULL);
}
