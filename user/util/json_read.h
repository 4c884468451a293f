/* json_read.h - a small JSON reader: parses a whole document (RFC 8259) into
 * a tree, with limits on input size and nesting depth, and never crashes on
 * bad input (it reports where the text went wrong instead). Integers that
 * fit in 64 bits are kept exact as uint64_t, not rounded through a double. */
#ifndef FL_JSON_READ_H
#define FL_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_value {
	enum json_type type;
	bool boolean;		/* JSON_BOOL */
	bool is_uint;		/* JSON_NUMBER: a non-negative integer that fits in u64 */
	uint64_t u64;		/* JSON_NUMBER with is_uint: the exact value */
	double num;		/* JSON_NUMBER: the value (rounded when it is a big integer) */
	char *str;		/* JSON_STRING: decoded UTF-8, NUL-terminated */
	size_t len;		/* JSON_STRING: bytes in str (str may hold \u0000) */
	char *key;		/* a member of a JSON_OBJECT: its name, NUL-terminated */
	size_t key_len;		/* bytes in key */
	struct json_value *items; /* JSON_ARRAY / JSON_OBJECT: the n elements / members */
	size_t n;
};

struct json_limits {
	size_t max_size;	/* bytes of input; 0: JSON_DEFAULT_MAX_SIZE */
	unsigned max_depth;	/* arrays/objects nested; 0: JSON_DEFAULT_MAX_DEPTH */
};

#define JSON_DEFAULT_MAX_SIZE  (16u << 20)
#define JSON_DEFAULT_MAX_DEPTH 64u

/* Parses len bytes of text (need not be NUL-terminated). Returns the root,
 * to be freed with json_free, or NULL with a one-line message in err, e.g.
 * "line 3, column 7: expected ':' after an object key". lim may be NULL. */
struct json_value *json_parse(const char *text, size_t len, const struct json_limits *lim,
			      char *err, size_t errlen);

/* Reads a whole file of at most max_size bytes (0: JSON_DEFAULT_MAX_SIZE)
 * into a new buffer (NUL-terminated; *len excludes the NUL). NULL with
 * "PATH: reason" in err on failure, an empty file included. */
char *json_slurp(const char *path, size_t max_size, size_t *len, char *err, size_t errlen);

/* Reads and parses a file; NULL with "PATH: reason" in err on failure. */
struct json_value *json_parse_file(const char *path, const struct json_limits *lim,
				   char *err, size_t errlen);

void json_free(struct json_value *v);

/* The first member named key of an object; NULL if v is not an object or
 * has no such member. */
const struct json_value *json_get(const struct json_value *v, const char *key);

/* Short name of a type, for messages: "null", "a number", "an object", ... */
const char *json_type_name(enum json_type t);

#endif
