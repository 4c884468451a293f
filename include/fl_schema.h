/* fl_schema.h - the names of faultline's output formats that writers and
 * readers share (the JSON summary that `report --format json` and `stat
 * --json` write and `check` reads). */
#ifndef FL_SCHEMA_H
#define FL_SCHEMA_H

#define FL_SUMMARY_SCHEMA "faultline.summary.v1"
/* report --diff --format json */
#define FL_DIFF_SCHEMA "faultline.diff.v1"

#endif
