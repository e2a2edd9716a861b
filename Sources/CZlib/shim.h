#ifndef TRIPLINE_CZLIB_SHIM_H
#define TRIPLINE_CZLIB_SHIM_H

#include <zlib.h>

#endif
