#ifndef CHMAC_BASELINE_H
#define CHMAC_BASELINE_H

#include <stddef.h>
#include <stdint.h>

/// The C baselines for TokenBenchmarks: HMAC-SHA256 from OpenSSL's libcrypto, called directly,
/// the two ways TokenAuth could call it on Linux.

/// One-shot HMAC(): the key schedule is redone for every message. Returns 1 on success.
int chb_hmac_sha256_oneshot(const uint8_t *key, size_t key_length, const uint8_t *message, size_t message_length,
    uint8_t out[32]);

/// An EVP_MAC_CTX keyed once for HMAC-SHA256; NULL on failure.
void *chb_hmac_sha256_prepare(const uint8_t *key, size_t key_length);
/// Frees a prepared context.
void chb_hmac_sha256_free(void *prepared);
/// HMAC of one message on a copy (EVP_MAC_CTX_dup) of the prepared context, which is not
/// changed. Returns 1 on success.
int chb_hmac_sha256_dup(const void *prepared, const uint8_t *message, size_t message_length, uint8_t out[32]);

#endif
