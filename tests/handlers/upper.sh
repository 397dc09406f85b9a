#!/bin/sh
# For --handlers DIR tests: upper-cases the data (a JSON string).
tr a-z A-Z
