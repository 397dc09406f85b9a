#!/bin/sh
# Appends $AC_TASK_ID to $AC_TEST_TMP/record.log (or $1) and echoes the
# task data back as the result.
log=${1:-$AC_TEST_TMP/record.log}
echo "$AC_TASK_ID" >>"$log"
exec cat
