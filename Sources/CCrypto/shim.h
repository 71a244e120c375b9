// SHA-1 from the system's OpenSSL libcrypto (pkg-config libcrypto, Debian's libssl-dev), through its EVP interface.
// Nothing but the Common module includes this header.
#ifndef AIRFOIL_DP_CCRYPTO_SHIM_H
#define AIRFOIL_DP_CCRYPTO_SHIM_H

#include <openssl/evp.h>

/// Writes the 20-byte SHA-1 of `count` bytes at `bytes` into `digest`; returns 1 on success.
static inline int ccrypto_sha1(const void *bytes, size_t count, unsigned char *digest) {
    unsigned int length = 0;
    return EVP_Digest(bytes, count, digest, &length, EVP_sha1(), NULL) == 1 && length == 20;
}

#endif
