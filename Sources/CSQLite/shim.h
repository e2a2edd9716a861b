#ifndef TRIPLINE_CSQLITE_SHIM_H
#define TRIPLINE_CSQLITE_SHIM_H

#include <sqlite3.h>

#endif
