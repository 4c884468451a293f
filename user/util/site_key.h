/* site_key.h - a call site's name as two builds of a program share it: the
 * name without each frame's " (file:line)" or " (object)" (lines move with
 * every edit) and with hex addresses as "0x?" (they move with every run).
 * report --diff joins rows by it, check --sites compares sites by it. */
#ifndef FL_SITE_KEY_H
#define FL_SITE_KEY_H

/* A new string (the caller frees it), or NULL on out of memory. */
char *site_key(const char *name);

#endif
