#include "CHMACBaseline.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

int chb_hmac_sha256_oneshot(const uint8_t *key, size_t key_length, const uint8_t *message, size_t message_length,
    uint8_t out[32]) {
    unsigned int length = 0;
    return HMAC(EVP_sha256(), key, (int)key_length, message, message_length, out, &length) != NULL && length == 32;
}

void *chb_hmac_sha256_prepare(const uint8_t *key, size_t key_length) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) return NULL;
    EVP_MAC_CTX *context = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    if (context == NULL) return NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(context, key, key_length, params) != 1) {
        EVP_MAC_CTX_free(context);
        return NULL;
    }
    return context;
}

void chb_hmac_sha256_free(void *prepared) { EVP_MAC_CTX_free(prepared); }

int chb_hmac_sha256_dup(const void *prepared, const uint8_t *message, size_t message_length, uint8_t out[32]) {
    EVP_MAC_CTX *copy = EVP_MAC_CTX_dup(prepared);
    if (copy == NULL) return 0;
    size_t length = 0;
    int ok = EVP_MAC_update(copy, message, message_length) == 1 && EVP_MAC_final(copy, out, &length, 32) == 1
        && length == 32;
    EVP_MAC_CTX_free(copy);
    return ok;
}
