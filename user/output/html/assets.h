/* assets.h - the files the build embeds in faultline for the HTML page
 * (Makefile: build/gen/html_assets.c, from user/output/html/ and the
 * libraries Debian installs): each NUL-terminated, with its length and the
 * base64 SHA-256 its <script> is allowed by in the page's CSP. */
#ifndef FL_HTML_ASSETS_H
#define FL_HTML_ASSETS_H

extern const unsigned char html_page_js[], html_page_css[], html_d3_js[];
extern const unsigned long html_page_js_len, html_page_css_len, html_d3_js_len;
extern const char html_page_js_sha256[], html_d3_js_sha256[];

#endif
