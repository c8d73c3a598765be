#ifndef SWIFT_CACHING_CLIBCRYPTO_SHIM_H
#define SWIFT_CACHING_CLIBCRYPTO_SHIM_H

// OpenSSL's libcrypto (3.0 or later) for TokenAuth on Linux: HMAC-SHA2 through the EVP_MAC
// API and the one-shot HMAC(), SHA-256, and CRYPTO_memcmp. None of these is deprecated in 3.0.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#endif
