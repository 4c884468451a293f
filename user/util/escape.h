/* escape.h - the one place target-controlled strings (argv, paths, function
 * and file names from a traced program's ELF files) are made safe for the
 * output they go to. Every writer uses it:
 *   ESC_TEXT   text reports, live lines, check's text, stderr messages: the
 *              bytes below 0x20, 0x7f, the C1 controls (U+0080-U+009F) and
 *              bytes that are not valid UTF-8 become \n \r \t or \xNN, and a
 *              backslash \\; so nothing reaches the terminal as a control
 *              sequence and one record stays one line.
 *   ESC_FOLDED a frame name in folded stacks: ESC_TEXT, and ';' and space
 *              also as \x3b and \x20, so a name is one frame of one line.
 *   ESC_JSON   the inside of a JSON string: '"' and '\' escaped, control
 *              characters (C0, DEL, C1) as \n, \t, ... or \u00XX, valid UTF-8 as it is,
 *              and each byte that is not part of valid UTF-8 as \u00XX (the
 *              code point of the same number): valid JSON for any bytes.
 * and esc_json_for_html for JSON text inside an HTML page's <script>.
 */
#ifndef FL_ESCAPE_H
#define FL_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

enum esc_mode { ESC_TEXT, ESC_FOLDED, ESC_JSON };

/* Writes len bytes of s to out, escaped for mode (no quotes). */
void esc_write(FILE *out, const char *s, size_t len, enum esc_mode mode);
/* The same for a NUL-terminated s; NULL writes nothing. */
void esc_puts(FILE *out, const char *s, enum esc_mode mode);
/* s as a quoted JSON string literal. */
void esc_json_string(FILE *out, const char *s);
/* JSON text (already valid JSON, e.g. written with ESC_JSON) made inert
 * inside an HTML <script> element: '<', '>', '&' and U+2028/U+2029 as \u
 * escapes, which is the same JSON; so no string in it can end the element
 * or open a comment (the HTML report's data). */
void esc_json_for_html(FILE *out, const char *json, size_t len);
/* s escaped for mode into buf (always NUL-terminated; cut short, at an escape's
 * boundary, when cap is too small). Returns buf. */
char *esc_str(char *buf, size_t cap, const char *s, enum esc_mode mode);
/* Bytes of the valid UTF-8 sequence at s (n bytes available): 1 to 4, or 0
 * when s does not start one (overlong forms, surrogates and code points past
 * U+10FFFF are not valid). */
size_t utf8_valid_len(const unsigned char *s, size_t n);

#endif
