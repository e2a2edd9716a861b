#ifndef TRIPLINE_COPENSSL_SHIM_H
#define TRIPLINE_COPENSSL_SHIM_H

/* libcrypto only: HMAC and digests for webhook signing and content hashes. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#endif
